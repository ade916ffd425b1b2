import { PredictorRuntime, createLogger } from '@predict/serving';
import { LogCapture } from '@predict/serving/testing';
import { flightDelayPredictor } from './predictor';

/** The batch worker tier will use the predictor exactly like this: no Express, no HTTP. */
describe('flightDelayPredictor without HTTP', () => {
  const runtime = new PredictorRuntime(flightDelayPredictor, {
    mode: 'inline',
    batching: { maxBatchSize: 64, maxDelayMs: 0, maxQueueRows: 10_000, timeoutMs: 10_000 },
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
});
