import { UnprocessableEntityError } from '@predict/serving';

/**
 * Where the taxi-eta model answers: New York City's five boroughs, JFK, LaGuardia and Newark airports, and
 * the New Jersey waterfront between them. Training drops trips that start or end outside (the public data has
 * points in the ocean and at 0,0), so the model has never seen anything beyond this box.
 */
export const SERVICE_AREA = Object.freeze({
  minLat: 40.45,
  maxLat: 40.95,
  minLon: -74.3,
  maxLon: -73.65,
});

export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

export interface TripEnds {
  readonly pickup: LatLon;
  readonly dropoff: LatLon;
}

export function inServiceArea(p: LatLon): boolean {
  const a = SERVICE_AREA;
  return p.lat >= a.minLat && p.lat <= a.maxLat && p.lon >= a.minLon && p.lon <= a.maxLon;
}

/**
 * The first coordinate outside the service area as `{ field, value, min, max }` (field `pickup.lat`,
 * `pickup.lon`, `dropoff.lat` or `dropoff.lon`), or undefined when both ends are inside.
 */
export function outsideServiceArea(trip: TripEnds): { field: string; value: number; min: number; max: number } | undefined {
  const a = SERVICE_AREA;
  for (const end of ['pickup', 'dropoff'] as const) {
    const p = trip[end];
    if (!(p.lat >= a.minLat && p.lat <= a.maxLat)) return { field: `${end}.lat`, value: p.lat, min: a.minLat, max: a.maxLat };
    if (!(p.lon >= a.minLon && p.lon <= a.maxLon)) return { field: `${end}.lon`, value: p.lon, min: a.minLon, max: a.maxLon };
  }
  return undefined;
}

/** Throws a 422 `outside_service_area` naming the first coordinate outside the area. */
export function assertInServiceArea(trip: TripEnds): void {
  const outside = outsideServiceArea(trip);
  if (outside === undefined) return;
  throw new UnprocessableEntityError(
    `${outside.field} ${outside.value} is outside the service area (${outside.min}..${outside.max})`,
    outside,
    'outside_service_area',
  );
}

/** The three airports, with a radius (km) that covers their terminals and on-airport roads. */
export const AIRPORTS = Object.freeze([
  { code: 1, name: 'JFK', lat: 40.6441, lon: -73.7822, radiusKm: 2.2 },
  { code: 2, name: 'LGA', lat: 40.7747, lon: -73.8719, radiusKm: 1.3 },
  { code: 3, name: 'EWR', lat: 40.6895, lon: -74.1745, radiusKm: 2.0 },
] as const);

/**
 * Coarse zones: every point belongs to the nearest centroid (a Voronoi partition of the service area). The
 * index is the zone's code in the model input, so the order is part of the model: append, never reorder.
 * Manhattan south to north, then Brooklyn, Queens, the Bronx, Staten Island, New Jersey and the airports.
 */
export const ZONES = Object.freeze([
  { name: 'financial-district', lat: 40.7075, lon: -74.009 },
  { name: 'tribeca-soho', lat: 40.7215, lon: -74.004 },
  { name: 'lower-east-side', lat: 40.717, lon: -73.987 },
  { name: 'greenwich-village', lat: 40.732, lon: -73.999 },
  { name: 'east-village', lat: 40.727, lon: -73.983 },
  { name: 'chelsea', lat: 40.745, lon: -74.001 },
  { name: 'gramercy-murray-hill', lat: 40.743, lon: -73.98 },
  { name: 'midtown-west', lat: 40.76, lon: -73.99 },
  { name: 'midtown-east', lat: 40.755, lon: -73.972 },
  { name: 'upper-west-side', lat: 40.787, lon: -73.975 },
  { name: 'upper-east-side', lat: 40.773, lon: -73.956 },
  { name: 'harlem', lat: 40.81, lon: -73.946 },
  { name: 'washington-heights', lat: 40.845, lon: -73.938 },
  { name: 'williamsburg-greenpoint', lat: 40.717, lon: -73.953 },
  { name: 'downtown-brooklyn', lat: 40.693, lon: -73.989 },
  { name: 'park-slope', lat: 40.672, lon: -73.98 },
  { name: 'bed-stuy-bushwick', lat: 40.69, lon: -73.93 },
  { name: 'crown-heights-flatbush', lat: 40.653, lon: -73.95 },
  { name: 'south-brooklyn', lat: 40.61, lon: -73.98 },
  { name: 'long-island-city-astoria', lat: 40.755, lon: -73.93 },
  { name: 'jackson-heights-elmhurst', lat: 40.747, lon: -73.88 },
  { name: 'flushing', lat: 40.76, lon: -73.83 },
  { name: 'forest-hills-jamaica', lat: 40.705, lon: -73.815 },
  { name: 'northeast-queens', lat: 40.76, lon: -73.77 },
  { name: 'south-bronx', lat: 40.82, lon: -73.91 },
  { name: 'north-bronx', lat: 40.87, lon: -73.87 },
  { name: 'staten-island', lat: 40.59, lon: -74.13 },
  { name: 'new-jersey', lat: 40.73, lon: -74.1 },
  { name: 'jfk', lat: 40.6441, lon: -73.7822 },
  { name: 'lga', lat: 40.7747, lon: -73.8719 },
  { name: 'ewr', lat: 40.6895, lon: -74.1745 },
] as const);

/** Times Square: the reference point of the `*_center_km` features. */
export const MIDTOWN = Object.freeze({ lat: 40.758, lon: -73.9855 });
