import { inputChunkKey, resultChunkKey, summaryKey } from './keys';
import { DEFAULT_QUEUE_PREFIX, QUEUES } from './queues';
import { PRIORITIES, jobDataSchema, jobOptionsSchema, resultLineSchema } from './schemas';

describe('the wire format', () => {
  test('the payloads the README shows (TypeScript and Python producers) parse, with defaults filled in', () => {
    const inline = jobDataSchema.parse({ v: 1, input: { kind: 'inline', instances: [{ origin: 'ORD' }] } });
    expect(inline).toMatchObject({ chunk_rows: 10_000, results_ttl_seconds: 86_400 });
    const chunks = jobDataSchema.parse({
      v: 1,
      input: { kind: 'chunks', key: '{predict}:flight-delay:input:abc', chunks: 5, rows: 50_000, chunk_rows: 10_000 },
    });
    expect(chunks.input.kind).toBe('chunks');
    const source = jobDataSchema.parse({ v: 1, input: { kind: 'source', source: 'facility', params: { facility_id: 'F1' } } });
    expect(source.input).toEqual({ kind: 'source', source: 'facility', params: { facility_id: 'F1' } });
  });

  test('invalid payloads are refused naming the field', () => {
    const cases: [unknown, string][] = [
      [{ v: 2, input: { kind: 'inline', instances: [1] } }, 'v'],
      [{ v: 1, input: { kind: 'inline', instances: [] } }, 'input.instances'],
      [{ v: 1, input: { kind: 'inline', instances: 'x' } }, 'input.instances'],
      [{ v: 1, input: { kind: 'upload', instances: [1] } }, 'input.kind'],
      [{ v: 1, input: { kind: 'chunks', key: 'k', chunks: 0, rows: 1, chunk_rows: 1 } }, 'input.chunks'],
      [{ v: 1, input: { kind: 'source', source: 'Bad Name' } }, 'input.source'],
    ];
    for (const [payload, path] of cases) {
      const result = jobDataSchema.safeParse(payload);
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
    }
  });

  test('options default to normal priority, 3 attempts, exponential backoff from 1 s; priorities run high first', () => {
    expect(jobOptionsSchema.parse({})).toEqual({ priority: 'normal', attempts: 3, backoff: { type: 'exponential', delay_ms: 1000 } });
    expect(PRIORITIES.high).toBeLessThan(PRIORITIES.normal);
    expect(PRIORITIES.normal).toBeLessThan(PRIORITIES.low);
  });

  test('result lines carry the index and an output or an error', () => {
    expect(resultLineSchema.parse({ index: 3, output: { p: 0.5 } })).toEqual({ index: 3, output: { p: 0.5 } });
    expect(resultLineSchema.safeParse({ output: { p: 0.5 } }).success).toBe(false);
  });

  test('every key of a queue starts with <prefix>:<queue>: (one Cluster slot under a hash-tagged prefix)', () => {
    const keys = [inputChunkKey(DEFAULT_QUEUE_PREFIX, QUEUES.taxiEta, 'j1', 0), resultChunkKey(DEFAULT_QUEUE_PREFIX, QUEUES.taxiEta, 'j1', 2), summaryKey(DEFAULT_QUEUE_PREFIX, QUEUES.taxiEta, 'j1')];
    expect(keys).toEqual(['{predict}:taxi-eta:input:j1:0', '{predict}:taxi-eta:results:j1:2', '{predict}:taxi-eta:results:j1:summary']);
  });
});
