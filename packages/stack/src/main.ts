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
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping nginx, then every replica (each drains), then what else the stack started\n`);
    void stack.stop().then(() => {
      process.stdout.write('stopped\n');
      process.exit(0);
    });
  };
  // Registered before the start: a Ctrl-C during start-up still stops what has started.
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGHUP', () => stop('SIGHUP'));
  try {
    await stack.boot();
  } catch (error) {
    if (stopping) return; // stopped during start-up: stop() exits
    throw error;
  }
  process.stdout.write(`${await stack.summary()}\n\nall ready; Ctrl-C stops everything\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`pnpm stack: ${error.message}\n`);
  process.exit(1);
});
