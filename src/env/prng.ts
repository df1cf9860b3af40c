// A small, fast, deterministic PRNG for pure protocol cores that need synchronous draws.

/**
 * Returns a generator of numbers in [0, 1) from a 32-bit seed (mulberry32). Protocol cores get
 * their seed from the {@link Random} service, so their draws stay inside the run's seed.
 */
export const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
