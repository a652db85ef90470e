// @ts-check
// A small seeded PRNG (mulberry32): the fault schedule and each producer's workload are pure
// functions of the seed, so a run is reproducible with --seed.
/** @param {number} seed */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** Integer in [min, max]. */
    int: (/** @type {number} */ min, /** @type {number} */ max) => min + Math.floor(next() * (max - min + 1)),
    /**
     * One of `items` (not empty).
     * @template T
     * @param {readonly T[]} items
     * @returns {T}
     */
    pick: (items) => /** @type {T} */ (items[Math.floor(next() * items.length)]),
    chance: (/** @type {number} */ p) => next() < p,
  };
}
