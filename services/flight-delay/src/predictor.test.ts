import { PredictorRuntime, createLogger } from '@predict/serving';
import { LogCapture } from '@predict/serving/testing';
import { flightDelayPredictor } from './predictor';

/** The batch worker tier will use the predictor exactly like this: no Express, no HTTP. */
describe('flightDelayPredictor without HTTP', () => {
  const runtime = new PredictorRuntime(flightDelayPredictor, {
    mode: 'inline',
    batching: { maxBatchSize: 64, maxDelayMs: 0, maxQueueRows: 10_000, maxQueueBytes: 1 << 28, timeoutMs: 10_000 },
    logger: createLogger({ service: 'batch-test', level: 'warn', stream: new LogCapture() }),
  });
  beforeAll(() => runtime.start());
  afterAll(() => runtime.stop());

  it('predicts validated instances in order and reports domain rejections in place', async () => {
    const parse = (x: unknown) => flightDelayPredictor.input.parse(x);
    const inputs = [
      parse({ origin: 'ATL', destination: 'ORD', scheduled_departure: '2001-06-01T08:00' }),
      parse({ origin: 'ATL', destination: 'QQQ', scheduled_departure: '2001-06-01T08:00' }),
      parse({ origin: 'SFO', destination: 'JFK', scheduled_departure: '2001-06-01T22:30', distance_miles: 2586 }),
    ];
    const { results, model } = await runtime.predictMany(inputs);
    expect(model.name).toBe('flight-delay');
    expect(results[0]).toMatchObject({ ok: true, output: { probability_delayed: expect.any(Number) } });
    expect(results[1]).toMatchObject({ ok: false, error: { status: 422, code: 'unknown_airport' } });
    const single = await runtime.predict(inputs[2]!);
    expect(results[2]).toEqual({ ok: true, output: single.output });
  });

  it('predictChunk answers raw instances in place, in pieces, exactly as online predictions', async () => {
    const raw = Array.from({ length: 2500 }, (_, i) =>
      i % 500 === 7
        ? { origin: 'ATL', destination: 'ORD' } // no scheduled_departure: a validation error in place
        : { origin: i % 2 ? 'ATL' : 'SFO', destination: i % 3 ? 'ORD' : 'QQQ', scheduled_departure: `2001-06-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:15` },
    );
    const progress: number[] = [];
    const { results, model } = await runtime.predictChunk(raw, { onProgress: (done) => progress.push(done) });
    expect(model.name).toBe('flight-delay');
    expect(results).toHaveLength(raw.length);
    expect(progress.at(-1)).toBe(raw.length);
    expect(progress.length).toBeGreaterThan(1); // pieces of BULK_RUN_ROWS (1,024), not one pass
    expect(results[7]).toMatchObject({ ok: false, error: { status: 400, code: 'validation_error' } });
    expect(results[0]).toMatchObject({ ok: false, error: { code: 'unknown_airport' } }); // QQQ
    for (const i of [1, 2, 1001, 2498]) {
      const online = await runtime.predict(flightDelayPredictor.input.parse(raw[i]));
      expect(results[i]).toEqual({ ok: true, output: online.output });
    }
  });

  it('predictChunk stops when its signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('job cancelled'));
    await expect(runtime.predictChunk([{ origin: 'ATL', destination: 'ORD', scheduled_departure: '2001-06-01T08:00' }], { signal: controller.signal })).rejects.toThrow('job cancelled');
  });
});
