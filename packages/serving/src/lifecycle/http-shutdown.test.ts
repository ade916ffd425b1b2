import { createLogger } from '../logging/logger';
import { RawHttpClient, listenOnLoopback } from '../testing/raw-http';
import { linearPredictor } from '../testing/linear-predictor';
import { LogCapture, startTestService } from '../testing/test-service';
import { httpShutdownSteps } from './http-shutdown';
import { registerShutdown } from './shutdown';

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
const body = '{"a": 1, "b": 2, "c": 4}';
const predict = `POST /v1/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

describe('httpShutdownSteps', () => {
  it('keeps serving (Connection: close) with readiness 503 through the grace period, then refuses connections', async () => {
    const svc = await startTestService({ predictor: linearPredictor });
    const http = await listenOnLoopback(svc.app, svc.logger);
    // The grace period ends when the test says so: no timing in the assertions.
    let endGrace: () => void = () => undefined;
    const waited: number[] = [];
    const wait = (ms: number) => new Promise<void>((resolve) => {
      waited.push(ms);
      endGrace = resolve;
    });
    const logs = new LogCapture();
    const exits: number[] = [];
    const { shutdown } = registerShutdown({
      logger: createLogger({ service: 't', stream: logs }),
      timeoutMs: 30_000,
      signals: [],
      exit: (code) => exits.push(code),
      steps: httpShutdownSteps({ state: svc.state, server: http.server, graceMs: 1500, drainTimeoutMs: 5000, wait }),
    });
    try {
      const done = shutdown('SIGTERM');
      expect(svc.state.draining).toBe(true);

      const ready = await RawHttpClient.exchange(http.port, get('/health/ready'));
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toEqual({ status: 'draining' });
      const served = await RawHttpClient.exchange(http.port, predict);
      expect(served.status).toBe(200);
      expect(served.headers['connection']).toBe('close');
      expect(JSON.parse(served.body).y).toBeCloseTo(0.5, 5);
      expect(waited).toEqual([1500]);

      endGrace();
      await done;
      expect(exits).toEqual([0]);
      await expect(RawHttpClient.connect(http.port)).rejects.toThrow(/ECONNREFUSED/);
      expect(logs.lines.filter((l) => l['step']).map((l) => l['step'])).toEqual([
        'readiness 503',
        'grace period: serve while load balancers stop routing here',
        'stop accepting HTTP and drain in-flight requests',
      ]);
    } finally {
      endGrace();
      await http.close();
      await svc.stop();
    }
  });
});
