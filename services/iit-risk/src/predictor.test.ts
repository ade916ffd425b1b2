import type { ModelCard } from '@predict/serving';
import { createIitRiskPredictor } from './predictor';
import { goldenRows } from './service.test-support';

describe('iit-risk predictor: inline features skip the prepare stage', () => {
  const predictor = createIitRiskPredictor();
  const inline = goldenRows().slice(0, 3).map((r) => ({ features: r.input.features }));

  it('asPrepared gives what prepare gives for inline features, and nothing for a stored person', async () => {
    const context = { artifacts: { medium: 0.1, high: 0.3 }, card: {} as ModelCard, signal: new AbortController().signal };
    expect(inline.map((i) => predictor.asPrepared?.(i))).toEqual(await predictor.prepare?.(inline, context));
    expect(predictor.asPrepared?.({ patient_id: 'P-0001' })).toBeUndefined();
  });
});
