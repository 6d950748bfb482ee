// The seeded random numbers of the evaluation's synthetic population and of property-style specs: the same
// numbers on every machine for a seed, so a failure reproduces from it.
/** mulberry32: small, fast, and the same numbers on every machine for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
