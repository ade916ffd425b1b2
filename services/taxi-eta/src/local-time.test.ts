import { dayOfWeek, isFederalHoliday, parseLocalTime } from './local-time';

describe('parseLocalTime', () => {
  it.each([
    ['2016-06-12T08:15:00', { year: 2016, month: 6, day: 12, hour: 8, minute: 15, second: 0, dayOfWeek: 6 }],
    ['2016-06-12T08:15', { year: 2016, month: 6, day: 12, hour: 8, minute: 15, second: 0, dayOfWeek: 6 }],
    ['2016-02-29T23:59:59.999', { year: 2016, month: 2, day: 29, hour: 23, minute: 59, second: 59, dayOfWeek: 0 }],
    ['2016-01-01T00:00:00', { year: 2016, month: 1, day: 1, hour: 0, minute: 0, second: 0, dayOfWeek: 4 }],
  ])('%s', (value, want) => {
    expect(parseLocalTime(value)).toEqual(want);
  });

  it.each([
    '2016-06-12 08:15:00', // the CSV's form, not the request's
    '2016-06-12T08:15:00Z',
    '2016-06-12T08:15:00-04:00',
    '2015-02-29T10:00',
    '2016-04-31T10:00',
    '2016-13-01T10:00',
    '2016-06-12T24:00',
    '2016-06-12T10:60',
    '2016-06-12T10:00:60',
    '2016-6-12T10:00',
    '2016-06-12',
    '',
  ])('refuses %j', (value) => {
    expect(parseLocalTime(value)).toBeUndefined();
  });
});

describe('dayOfWeek', () => {
  it('counts from Monday = 0', () => {
    // 2016-06-13 was a Monday; the week after, and dates on both sides of 1970 and of leap days.
    expect([13, 14, 15, 16, 17, 18, 19].map((d) => dayOfWeek(2016, 6, d))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(dayOfWeek(1970, 1, 1)).toBe(3);
    expect(dayOfWeek(1969, 12, 31)).toBe(2);
    expect(dayOfWeek(2000, 3, 1)).toBe(2);
  });
});

describe('isFederalHoliday', () => {
  const holidays2016 = ['01-01', '01-18', '02-15', '05-30', '07-04', '09-05', '10-10', '11-11', '11-24', '12-25', '12-26'];

  it('finds every 2016 holiday (Christmas on a Sunday is observed on Monday) and nothing else', () => {
    const found: string[] = [];
    for (let t = Date.UTC(2016, 0, 1); t < Date.UTC(2017, 0, 1); t += 86_400_000) {
      const d = new Date(t);
      if (isFederalHoliday(2016, d.getUTCMonth() + 1, d.getUTCDate())) found.push(d.toISOString().slice(5, 10));
    }
    expect(found).toEqual(holidays2016);
  });

  it('observes Saturday holidays on Friday, across the year end too', () => {
    expect(isFederalHoliday(2021, 6, 18)).toBe(true); // Juneteenth 2021 fell on a Saturday
    expect(isFederalHoliday(2021, 6, 19)).toBe(true);
    expect(isFederalHoliday(2020, 6, 19)).toBe(false); // before 2021
    expect(isFederalHoliday(2021, 12, 31)).toBe(true); // New Year's Day 2022 fell on a Saturday
    expect(isFederalHoliday(2021, 12, 24)).toBe(true); // Christmas 2021 too
    expect(isFederalHoliday(2016, 12, 31)).toBe(false);
  });
});
