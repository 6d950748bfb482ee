// Distances on the globe, for impossible travel.

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance (haversine) in km. */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * The least distance the subject must have covered: the distance between the two points less both accuracy
 * radii (each true location may be anywhere within its radius), never below 0.
 */
export function minimumTravelKm(
  a: { lat: number; lon: number; accuracyKm: number },
  b: { lat: number; lon: number; accuracyKm: number },
): number {
  return Math.max(0, distanceKm(a, b) - a.accuracyKm - b.accuracyKm);
}
