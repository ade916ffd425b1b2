import {
  FEATURE_NAMES,
  FEATURE_TABLES_FORMAT,
  type FeatureTablesJson,
  type HourStats,
  type RouteHourStats,
  type Stats,
} from '../src/features';

const HOURS = 24;

export interface AirportInfo {
  readonly iata: string;
  /** Frequency rank in the training split (0 = busiest). */
  readonly code: number;
  readonly latitude: number;
  readonly longitude: number;
}

/**
 * Delay statistics of a set of flights, in one flat Float64Array so that the out-of-fold tables are plain
 * element-wise differences: stats(train minus fold k) = stats(train) - stats(fold k).
 *
 * Layout: global [n, delayed, sum] | global hour [n, delayed] x 24 | per airport as origin [n, delayed, sum]
 * | as destination | origin hour [n, delayed] x 24 | destination hour x 24 | per route [n, delayed, sum]
 * | per route and hour [n, delayed, sum].
 */
export class TargetStats {
  readonly values: Float64Array;
  private readonly oOrigin: number;
  private readonly oDest: number;
  private readonly oOriginHour: number;
  private readonly oDestHour: number;
  private readonly oRoute: number;
  private readonly oRouteHour: number;
  /** Distinct calendar days added (days are never split across two TargetStats). */
  readonly days = new Set<number>();

  constructor(readonly airportCount: number) {
    const a = airportCount;
    this.oOrigin = 3 + 2 * HOURS;
    this.oDest = this.oOrigin + 3 * a;
    this.oOriginHour = this.oDest + 3 * a;
    this.oDestHour = this.oOriginHour + 2 * HOURS * a;
    this.oRoute = this.oDestHour + 2 * HOURS * a;
    this.oRouteHour = this.oRoute + 3 * a * a;
    this.values = new Float64Array(this.oRouteHour + 3 * HOURS * a * a);
  }

  add(origin: number, destination: number, hour: number, day: number, delay: number, delayedMinutes: number): void {
    const v = this.values;
    const late = delay >= delayedMinutes ? 1 : 0;
    const add3 = (at: number): void => {
      v[at] = (v[at] ?? 0) + 1;
      v[at + 1] = (v[at + 1] ?? 0) + late;
      v[at + 2] = (v[at + 2] ?? 0) + delay;
    };
    const add2 = (at: number): void => {
      v[at] = (v[at] ?? 0) + 1;
      v[at + 1] = (v[at + 1] ?? 0) + late;
    };
    add3(0);
    add2(3 + 2 * hour);
    add3(this.oOrigin + 3 * origin);
    add3(this.oDest + 3 * destination);
    add2(this.oOriginHour + 2 * (HOURS * origin + hour));
    add2(this.oDestHour + 2 * (HOURS * destination + hour));
    add3(this.oRoute + 3 * (this.airportCount * origin + destination));
    add3(this.oRouteHour + 3 * (HOURS * (this.airportCount * origin + destination) + hour));
    this.days.add(day);
  }

  /** this - other, for statistics of disjoint sets of days. */
  minus(other: TargetStats): TargetStats {
    const out = new TargetStats(this.airportCount);
    for (let i = 0; i < out.values.length; i++) out.values[i] = (this.values[i] ?? 0) - (other.values[i] ?? 0);
    for (const d of this.days) if (!other.days.has(d)) out.days.add(d);
    return out;
  }

  plus(other: TargetStats): TargetStats {
    const out = new TargetStats(this.airportCount);
    for (let i = 0; i < out.values.length; i++) out.values[i] = (this.values[i] ?? 0) + (other.values[i] ?? 0);
    for (const d of this.days) out.days.add(d);
    for (const d of other.days) out.days.add(d);
    return out;
  }

  private stats(at: number): Stats {
    const v = this.values;
    return [v[at] ?? 0, v[at + 1] ?? 0, v[at + 2] ?? 0];
  }

  private hours(at: number): HourStats {
    const out: HourStats = [];
    for (let h = 0; h < HOURS; h++) out.push([this.values[at + 2 * h] ?? 0, this.values[at + 2 * h + 1] ?? 0]);
    return out;
  }

  /** The features.json form. `airports` is indexed like the indices passed to add(). */
  toJson(
    airports: readonly AirportInfo[],
    smoothing: FeatureTablesJson['smoothing'],
    delayedMinutes: number,
  ): FeatureTablesJson {
    const [flights, delayed, delaySum] = this.stats(0);
    const json: FeatureTablesJson = {
      format: FEATURE_TABLES_FORMAT,
      feature_names: [...FEATURE_NAMES],
      delayed_minutes: delayedMinutes,
      days: this.days.size,
      smoothing,
      global: { flights, delayed, delay_sum: delaySum, hour: this.hours(3) },
      airports: {},
      routes: {},
    };
    airports.forEach((a, i) => {
      json.airports[a.iata] = {
        code: a.code,
        latitude: a.latitude,
        longitude: a.longitude,
        origin: this.stats(this.oOrigin + 3 * i),
        destination: this.stats(this.oDest + 3 * i),
        origin_hour: this.hours(this.oOriginHour + 2 * HOURS * i),
        destination_hour: this.hours(this.oDestHour + 2 * HOURS * i),
      };
    });
    airports.forEach((o, i) => {
      airports.forEach((d, j) => {
        const r = this.airportCount * i + j;
        const all = this.stats(this.oRoute + 3 * r);
        if (all[0] === 0) return;
        const hours: RouteHourStats = [];
        for (let h = 0; h < HOURS; h++) {
          const [n, late, sum] = this.stats(this.oRouteHour + 3 * (HOURS * r + h));
          if (n > 0) hours.push([h, n, late, sum]);
        }
        json.routes[`${o.iata}-${d.iata}`] = { all, hours };
      });
    });
    return json;
  }
}

/**
 * The baseline the model must beat: the training split's delay rate and mean delay of the route in the
 * scheduled departure hour; with fewer than `minFlights` such flights the route's, then the global figures.
 */
export class RouteHourBaseline {
  private readonly routeHour: Float64Array;
  private readonly route: Float64Array;
  private readonly global = new Float64Array(3);

  constructor(
    private readonly airportCount: number,
    private readonly delayedMinutes: number,
    readonly minFlights: number,
  ) {
    this.routeHour = new Float64Array(airportCount * airportCount * HOURS * 3);
    this.route = new Float64Array(airportCount * airportCount * 3);
  }

  add(origin: number, destination: number, hour: number, delay: number): void {
    const late = delay >= this.delayedMinutes ? 1 : 0;
    const r = origin * this.airportCount + destination;
    for (const [arr, at] of [
      [this.routeHour, 3 * (r * HOURS + hour)],
      [this.route, 3 * r],
      [this.global, 0],
    ] as const) {
      arr[at] = (arr[at] ?? 0) + 1;
      arr[at + 1] = (arr[at + 1] ?? 0) + late;
      arr[at + 2] = (arr[at + 2] ?? 0) + delay;
    }
  }

  /** [P(delayed), mean delay minutes] */
  predict(origin: number, destination: number, hour: number): [number, number] {
    const r = origin * this.airportCount + destination;
    for (const [arr, at] of [
      [this.routeHour, 3 * (r * HOURS + hour)],
      [this.route, 3 * r],
    ] as const) {
      const n = arr[at] ?? 0;
      if (n >= this.minFlights) return [(arr[at + 1] ?? 0) / n, (arr[at + 2] ?? 0) / n];
    }
    const n = this.global[0] ?? 1;
    return [(this.global[1] ?? 0) / n, (this.global[2] ?? 0) / n];
  }
}
