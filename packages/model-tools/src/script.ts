/* eslint-disable no-console -- training scripts report on the console */

/** Runs a training script's async main: an error is printed with its stack and the process exits 1. */
export function runScript(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

/** console.log with the seconds since the logger was made: `[export +12.3s] message`. */
export function stepLogger(step: string): (msg: string) => void {
  const started = Date.now();
  return (msg) => console.log(`[${step} +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}
