// The Random service of a real node: draws from the operating system's cryptographic source.
import { randomFillSync } from "node:crypto"
import { Effect } from "effect"
import { Random } from "../env/index.ts"

/** Bytes fetched from the OS at once; one call per 512 draws instead of one per draw. */
const POOL_BYTES = 4096

/**
 * Makes a node's randomness from `node:crypto`. Nothing here is seeded or replayable: a real run
 * is not deterministic, which is what the simulator is for. Protocol cores that seed `mulberry32`
 * from it get a fresh seed per start, as a real node should.
 */
export const makeRealRandom = (): Random["Service"] => {
  const pool = Buffer.alloc(POOL_BYTES)
  let offset = POOL_BYTES
  /** 53 random bits as a number in [0, 1), like Math.random's range. */
  const next = (): number => {
    if (offset + 8 > POOL_BYTES) {
      randomFillSync(pool)
      offset = 0
    }
    const high = pool.readUInt32BE(offset) >>> 5 // 27 bits
    const low = pool.readUInt32BE(offset + 4) >>> 6 // 26 bits
    offset += 8
    return (high * 67108864 + low) / 9007199254740992
  }
  const nextInt = (bound: number): number => {
    if (!Number.isSafeInteger(bound) || bound <= 0) throw new Error(`Random.nextInt: bound must be a positive safe integer, got ${bound}`)
    // Rejection sampling keeps every value equally likely, whatever the bound.
    const limit = Math.floor(9007199254740992 / bound) * bound
    while (true) {
      const draw = next() * 9007199254740992
      if (draw < limit) return draw % bound
    }
  }
  return Random.of({
    next: Effect.sync(next),
    nextInt: (bound) => Effect.sync(() => nextInt(bound))
  })
}
