/**
 * Waits until `condition` holds, checking every few milliseconds, and fails with `what` after `timeoutMs`
 * (a deadline, not a timing assertion: it only bounds how long a broken test hangs).
 */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
