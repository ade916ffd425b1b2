import {
  INTERVAL_TABLE_FORMAT,
  distanceBand,
  etaIntervalSeconds,
  intervalFor,
  parseIntervalTable,
  type IntervalTableJson,
} from './interval';

/** Two edges (three bands); cell value = band + hour / 100, so a lookup names its own cell. */
function tableJson(): IntervalTableJson {
  const cells = (sign: number): number[][] => [0, 1, 2].map((b) => Array.from({ length: 24 }, (_, h) => sign * (b + 1 + h / 100)));
  return {
    format: INTERVAL_TABLE_FORMAT,
    quantiles: [0.1, 0.9],
    distance_band_edges_km: [1, 5],
    low: cells(-1),
    high: cells(1),
    counts: [0, 1, 2].map(() => new Array(24).fill(100)),
  };
}

const table = parseIntervalTable(tableJson());

describe('intervalFor', () => {
  it.each([
    [0, 0, 0],
    [0.999, 0, 0],
    [1, 0, 1], // an edge belongs to the band above
    [4.99, 0, 1],
    [5, 0, 2],
    [250, 0, 2],
  ])('%d km is band %d', (km, _hour, band) => {
    expect(distanceBand(km, table)).toBe(band);
    expect(intervalFor(km, 0, table)).toEqual([-(band + 1), band + 1]);
  });

  it('bands the float32 value the model sees', () => {
    // 0.99999999 is below the edge 1 as a double but rounds to 1 in float32.
    expect(distanceBand(0.99999999, table)).toBe(1);
  });

  it('reads the whole hour', () => {
    expect(intervalFor(2, 17, table)).toEqual([-2.17, 2.17]);
    expect(intervalFor(2, 17.99, table)).toEqual([-2.17, 2.17]);
    expect(intervalFor(2, 0, table)).toEqual([-2, 2]);
    expect(intervalFor(2, 23.5, table)).toEqual([-2.23, 2.23]);
  });

  it.each([-1, 24, NaN])('refuses hour %d', (hour) => {
    expect(() => intervalFor(2, hour, table)).toThrow(RangeError);
  });
});

describe('etaIntervalSeconds', () => {
  it('adds the residual quantiles to the log duration', () => {
    const log = Math.log1p(600);
    const [lo, hi] = etaIntervalSeconds(log, [-0.5, 0.25]);
    expect(lo).toBeCloseTo(Math.expm1(log - 0.5), 9);
    expect(hi).toBeCloseTo(Math.expm1(log + 0.25), 9);
    expect(lo).toBeLessThan(600);
    expect(hi).toBeGreaterThan(600);
  });

  it('never goes below 0 seconds', () => {
    expect(etaIntervalSeconds(0.1, [-1, 1])[0]).toBe(0);
  });
});

describe('parseIntervalTable', () => {
  it('refuses edges out of order', () => {
    expect(() => parseIntervalTable({ ...tableJson(), distance_band_edges_km: [5, 1] })).toThrow(/strictly ascending/);
  });

  it('refuses a band count that does not match the edges', () => {
    expect(() => parseIntervalTable({ ...tableJson(), distance_band_edges_km: [1] })).toThrow(/expected 2 bands/);
  });

  it('refuses low above high', () => {
    const json = tableJson();
    json.low[1]![3] = 9;
    expect(() => parseIntervalTable(json)).toThrow(/low must not exceed high/);
  });

  it('refuses another format and a missing hour', () => {
    expect(() => parseIntervalTable({ ...tableJson(), format: 'other/1' })).toThrow();
    const json = tableJson();
    json.high[0]!.pop();
    expect(() => parseIntervalTable(json)).toThrow();
  });
});
