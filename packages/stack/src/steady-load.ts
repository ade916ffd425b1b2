import http from 'node:http';

export interface LoadResult {
  sent: number;
  ok: number;
  /** Every failed request: status (0 = no response) and what came back. */
  failures: { status: number; detail: string }[];
}

export interface SteadyLoad {
  readonly result: LoadResult;
  /** Resolves once `count` more requests have been answered (or failed) from now. */
  after(count: number): Promise<void>;
  /** Stops sending and resolves when every request in flight is done. */
  stop(): Promise<LoadResult>;
}

/**
 * A bounded, closed-loop load on loopback: `concurrency` clients each send one request, wait for its answer
 * (and at least `intervalMs` since the last send), and send the next, over keep-alive connections (as a real
 * caller does), until stopped or `maxRequests` or `maxMs` is reached. Paced, it leaves the CPU to the
 * replicas that restart meanwhile. Any answer other than 200, and any connection error, is a failure.
 */
export function steadyLoad(options: {
  port: number;
  path: string;
  body: string;
  concurrency: number;
  maxRequests: number;
  maxMs: number;
  intervalMs?: number;
}): SteadyLoad {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const result: LoadResult = { sent: 0, ok: 0, failures: [] };
  const deadline = Date.now() + options.maxMs;
  let stopped = false;
  const waiters: { at: number; resolve: () => void }[] = [];
  const done = () => {
    const answered = result.ok + result.failures.length;
    for (const w of waiters.splice(0)) {
      if (answered >= w.at || stopped) w.resolve();
      else waiters.push(w);
    }
  };

  const one = () =>
    new Promise<void>((resolve) => {
      result.sent++;
      const req = http.request(
        { host: '127.0.0.1', port: options.port, path: options.path, method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            if (res.statusCode === 200) result.ok++;
            else result.failures.push({ status: res.statusCode ?? 0, detail: text.slice(0, 300) });
            resolve();
          });
          res.on('error', (error) => {
            result.failures.push({ status: 0, detail: error.message });
            resolve();
          });
        },
      );
      req.on('error', (error) => {
        result.failures.push({ status: 0, detail: error.message });
        resolve();
      });
      req.end(options.body);
    });

  const client = async () => {
    while (!stopped && result.sent < options.maxRequests && Date.now() < deadline) {
      const pace = new Promise((r) => setTimeout(r, options.intervalMs ?? 0));
      await one();
      done();
      await pace;
    }
  };
  const clients = Promise.all(Array.from({ length: options.concurrency }, client)).then(() => {
    stopped = true;
    done();
  });

  return {
    result,
    after(count) {
      const at = result.ok + result.failures.length + count;
      return new Promise((resolve) => {
        waiters.push({ at, resolve });
        done();
      });
    },
    async stop() {
      stopped = true;
      await clients;
      agent.destroy();
      return result;
    },
  };
}
