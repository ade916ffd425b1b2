import { isRealLocalDateTime } from './schema';

/** The previous definition (regex + Date round trip), kept as the reference the character scanner must match. */
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?$/;
function reference(value: string): boolean {
  const m = LOCAL_DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as [number, number, number, number, number, number];
  if (year < 1900 || year > 2100 || hour > 23 || minute > 59 || second > 59) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** A deterministic pseudo-random sequence (tests must not depend on Math.random). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

describe('isRealLocalDateTime', () => {
  it.each([
    ['2001-06-15T17:30', true],
    ['2001-06-15T17:30:59', true],
    ['2001-06-15T17:30:00.5', true],
    ['2001-06-15T17:30:00.123456789', true],
    ['2000-02-29T00:00', true],
    ['2100-12-31T23:59', true],
    ['1900-02-29T00:00', false],
    ['2001-02-29T00:00', false],
    ['2001-04-31T00:00', false],
    ['2001-00-10T00:00', false],
    ['2001-06-00T00:00', false],
    ['2001-06-15T24:00', false],
    ['2001-06-15T17:60', false],
    ['2001-06-15T17:30:60', false],
    ['2001-06-15T17:30:00.', false],
    ['2001-06-15T17:30:00.1234567890', false],
    ['2101-01-01T00:00', false],
    ['1899-12-31T23:59', false],
    ['2001-06-15 17:30', false],
    ['2001-06-15T17:30Z', false],
    ['2001-06-15T17:30+01:00', false],
    ['２００１-06-15T17:30', false],
    ['', false],
  ])('%s → %s', (value, expected) => {
    expect(isRealLocalDateTime(value)).toBe(expected);
    expect(reference(value)).toBe(expected);
  });

  it('agrees with the regex definition on 200,000 generated strings', () => {
    const rand = lcg(20011);
    const alphabet = '0123456789-T:.Z +x٣';
    const pad = (v: number, n: number) => String(v).padStart(n, '0');
    let checked = 0;
    let valid = 0;
    for (let i = 0; i < 200_000; i++) {
      // Near-valid strings: random fields (some out of range), optional seconds and fraction, then mutations.
      let s = `${pad(1890 + rand(220), 4)}-${pad(rand(14), 2)}-${pad(rand(33), 2)}T${pad(rand(26), 2)}:${pad(rand(62), 2)}`;
      if (rand(3) === 0) s += `:${pad(rand(62), 2)}`;
      if (rand(4) === 0) s += `.${'7'.repeat(rand(11))}`;
      for (let m = rand(3) === 0 ? 1 + rand(2) : 0; m > 0; m--) {
        const at = rand(s.length + 1);
        const c = alphabet[rand(alphabet.length)] as string;
        const op = rand(3);
        s = op === 0 ? s.slice(0, at) + c + s.slice(at) : op === 1 ? s.slice(0, at) + s.slice(at + 1) : s.slice(0, at) + c + s.slice(at + 1);
      }
      const expected = reference(s);
      if (isRealLocalDateTime(s) !== expected) throw new Error(`'${s}': expected ${expected}`);
      checked++;
      if (expected) valid++;
    }
    expect(checked).toBe(200_000);
    // Both outcomes are well represented, so the comparison means something.
    expect(valid).toBeGreaterThan(20_000);
    expect(checked - valid).toBeGreaterThan(20_000);
  });
});
