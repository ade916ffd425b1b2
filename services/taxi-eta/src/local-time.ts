/**
 * Local New York wall-clock time as the service receives it (`YYYY-MM-DDTHH:MM[:SS[.fff]]`, no offset) and
 * the calendar facts the features need: day of week and US federal holidays.
 */

export interface LocalTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** 0 = Monday .. 6 = Sunday. */
  readonly dayOfWeek: number;
}

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?$/;
const DAY_MS = 86_400_000;

/** Parses a local date-time; undefined unless it is a real calendar date and clock time. */
export function parseLocalTime(value: string): LocalTime | undefined {
  const m = LOCAL_TIME.exec(value);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  return { year, month, day, hour, minute, second, dayOfWeek: dayOfWeek(year, month, day) };
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (MONTH_DAYS[month - 1] ?? 0);
}

/** 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday). */
export function dayOfWeek(year: number, month: number, day: number): number {
  const days = Math.floor(Date.UTC(year, month - 1, day) / DAY_MS);
  return (((days + 3) % 7) + 7) % 7;
}

/** Day of month of the n-th (1-based) `weekday` (0 = Monday) of a month; n = -1 for the last one. */
function nthWeekday(year: number, month: number, weekday: number, n: number): number {
  if (n > 0) return 1 + ((weekday - dayOfWeek(year, month, 1) + 7) % 7) + 7 * (n - 1);
  const last = daysInMonth(year, month);
  return last - ((dayOfWeek(year, month, last) - weekday + 7) % 7);
}

/** A fixed-date holiday counts on its date and on the weekday it is observed (Saturday -> Friday, Sunday -> Monday). */
function isFixedHoliday(year: number, month: number, day: number, hMonth: number, hDay: number): boolean {
  if (month === hMonth && day === hDay) return true;
  const dow = dayOfWeek(year, hMonth, hDay);
  const observed = new Date(Date.UTC(year, hMonth - 1, hDay + (dow === 5 ? -1 : dow === 6 ? 1 : 0)));
  return observed.getUTCMonth() + 1 === month && observed.getUTCDate() === day;
}

/**
 * US federal holidays (traffic on them looks like a weekend): New Year's Day, Martin Luther King Jr. Day,
 * Washington's Birthday, Memorial Day, Juneteenth (from 2021), Independence Day, Labor Day, Columbus Day,
 * Veterans Day, Thanksgiving and Christmas, each also on its observed weekday.
 */
export function isFederalHoliday(year: number, month: number, day: number): boolean {
  const MON = 0;
  const THU = 3;
  switch (month) {
    case 1:
      return isFixedHoliday(year, month, day, 1, 1) || day === nthWeekday(year, 1, MON, 3);
    case 2:
      return day === nthWeekday(year, 2, MON, 3);
    case 5:
      return day === nthWeekday(year, 5, MON, -1);
    case 6:
      return year >= 2021 && isFixedHoliday(year, month, day, 6, 19);
    case 7:
      return isFixedHoliday(year, month, day, 7, 4);
    case 9:
      return day === nthWeekday(year, 9, MON, 1);
    case 10:
      return day === nthWeekday(year, 10, MON, 2);
    case 11:
      return isFixedHoliday(year, month, day, 11, 11) || day === nthWeekday(year, 11, THU, 4);
    case 12:
      // December 31 is the observed New Year's Day when January 1 falls on a Saturday.
      return isFixedHoliday(year, month, day, 12, 25) || isFixedHoliday(year + 1, month, day, 1, 1);
    default:
      return false;
  }
}
