import { serializeEntry } from './prediction-log';

describe('serializeEntry: what the prediction log stores of an entry', () => {
  const entry = {
    requestId: 'r1',
    at: Date.UTC(2026, 10, 24),
    model: { name: 'm', version: '1' },
    input: { patient_id: 'P-1', nested: { Features: { age: 30 } }, rows: [{ patient_id: 'P-2', keep: 1 }] },
    output: { risk_score: 0.4, top_factors: [{ feature: 'age' }] },
    latencyMs: 1.23456,
  };

  it('hides the declared fields at any depth of input and output, whatever their case, and keeps the rest', () => {
    const stored = JSON.parse(serializeEntry(entry, new Set(['patient_id', 'features', 'top_factors']))) as Record<string, unknown>;
    expect(stored).toEqual({
      request_id: 'r1',
      time: '2026-11-24T00:00:00.000Z',
      model: { name: 'm', version: '1' },
      input: { patient_id: '[REDACTED]', nested: { Features: '[REDACTED]' }, rows: [{ patient_id: '[REDACTED]', keep: 1 }] },
      output: { risk_score: 0.4, top_factors: '[REDACTED]' },
      latency_ms: 1.235,
    });
  });

  it('stores everything as given when no field is declared', () => {
    expect(JSON.parse(serializeEntry(entry)).input).toEqual(entry.input);
  });
});
