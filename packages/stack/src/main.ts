/** `pnpm stack`: starts the topology, prints the summary, and stops everything on Ctrl-C / SIGTERM. */
import { USAGE, parseCli } from './cli-options';
import { loadServices } from './services';
import { Stack } from './stack';

async function main(): Promise<void> {
  const parsed = parseCli(process.argv.slice(2), process.env, loadServices());
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const stack = Stack.create(parsed);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal (pnpm forwards the Ctrl-C its own process got; an impatient second Ctrl-C) must not kill
      // the launcher half-way: the replicas it has not stopped yet would be left running.
      process.stdout.write(`${signal}: still stopping (each replica drains, SIGKILL after 30 s)\n`);
      return;
    }
    stopping = true;
    process.stdout.write(`\n${signal}: stopping nginx, then every replica (each drains), then what else the stack started\n`);
    void stack.stop().then(() => {
      process.stdout.write('stopped\n');
      process.exit(0);
    });
  };
  // Registered before the start: a Ctrl-C during start-up still stops what has started. Kept (not once): a repeated
  // signal is answered by stop(), never by Node's default of exiting at once.
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  try {
    await stack.boot();
  } catch (error) {
    if (stopping) return; // stopped during start-up: stop() exits
    throw error;
  }
  if (stopping) return; // a signal came as the last part started: nothing to announce, stop() exits
  process.stdout.write(`${await stack.summary()}\n\nall ready; Ctrl-C stops everything\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`pnpm stack: ${error.message}\n`);
  process.exit(1);
});
