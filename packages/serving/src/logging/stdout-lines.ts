import Transport from 'winston-transport';

const MESSAGE = Symbol.for('message');

/**
 * Log lines gathered for one write per event-loop turn: the lines a turn logs (a model run answers many
 * requests, each with its access-log line) go out as one write after the turn (setImmediate), not one
 * write(2) each — and, on a pipe (a container's log driver, `pnpm stack`), not one wake-up of the reader each.
 * Whatever is pending when the process exits (`process.exit` included) is written then, synchronously: on
 * Linux, writes to a file, pipe or terminal on standard output are synchronous.
 */
export class TurnBuffer {
  private lines: string[] = [];
  private scheduled = false;
  private hooked = false;

  constructor(private readonly write: (text: string) => void) {}

  push(line: string): void {
    this.lines.push(line);
    if (!this.hooked) {
      this.hooked = true;
      process.once('exit', () => this.flush());
    }
    if (!this.scheduled) {
      this.scheduled = true;
      // unref: a pending flush never keeps the process alive (the exit hook writes it).
      setImmediate(() => this.flush()).unref();
    }
  }

  /** Writes what is pending, in order, as one text. */
  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const text = this.lines.join('');
    this.lines = [];
    this.write(text);
  }
}

/** The process's standard output, one buffer for every logger of the process. */
const stdout = new TurnBuffer((text) => process.stdout.write(text));

/** The winston transport for standard output: each formatted line into a turn buffer (the process's stdout by default). */
export class StdoutLines extends Transport {
  constructor(private readonly buffer: TurnBuffer = stdout) {
    super();
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    this.buffer.push(`${String(info[MESSAGE])}\n`);
    callback();
  }
}
