import http from 'node:http';

/** GET http://127.0.0.1:port/path → status (0 when nothing answers). */
export function probe(port: number, route: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Polls `check` every 100 ms until it holds; throws after `timeoutMs`, or at once when `gaveUp` names a reason. */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs: number, gaveUp?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const reason = gaveUp?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
