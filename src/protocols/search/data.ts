// Clustered vectors generated from a seed: a Gaussian mixture, so tests and benches need no downloads.
import { mulberry32 } from "../../env/prng.ts"
import { assert } from "../assert.ts"

/** How to draw a data set: vector `i` is a pure function of these and `i`, so a checker regenerates any vector from its id. */
export interface MixtureOptions {
  readonly seed: number
  readonly dimensions: number
  /** Mixture components (cluster centres, drawn uniformly in [-1, 1]^d). */
  readonly clusters: number
  /** Standard deviation of each component around its centre. */
  readonly spread: number
}

/** A standard normal draw by Box–Muller from two uniform draws. */
const gaussian = (next: () => number): number => {
  const u = 1 - next()
  const v = next()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** A Gaussian mixture: `vector(i)` draws point `i` from its own stream, so points can be drawn in any order. */
export interface Mixture {
  readonly options: MixtureOptions
  readonly vector: (index: number) => Float32Array
}

/** Makes the mixture of `options`; centres are drawn once from the seed. */
export const makeMixture = (options: MixtureOptions): Mixture => {
  assert(options.dimensions > 0 && Number.isInteger(options.dimensions), "dimensions must be a positive integer")
  assert(options.clusters > 0 && Number.isInteger(options.clusters), "clusters must be a positive integer")
  const centreStream = mulberry32(options.seed ^ 0x5eed)
  const centres = Array.from({ length: options.clusters }, () =>
    Float32Array.from({ length: options.dimensions }, () => centreStream() * 2 - 1))
  const vector = (index: number): Float32Array => {
    assert(Number.isSafeInteger(index) && index >= 0, () => `vector index ${index} is not a natural number`)
    const next = mulberry32((options.seed * 0x9e3779b1 + index * 0x85ebca6b) >>> 0)
    const centre = centres[Math.floor(next() * options.clusters)]!
    return Float32Array.from(centre, (value) => value + options.spread * gaussian(next))
  }
  return { options, vector }
}

/** Squared Euclidean distance. */
export const squaredL2 = (left: Float32Array, right: Float32Array): number => {
  let sum = 0
  for (let dimension = 0; dimension < left.length; dimension++) {
    const difference = left[dimension]! - right[dimension]!
    sum += difference * difference
  }
  return sum
}

/** Cosine distance, 1 - cos(left, right), as hnswlib's `cosine` space computes it. */
export const cosineDistance = (left: Float32Array, right: Float32Array): number => {
  let dot = 0
  let leftNorm = 0
  let rightNorm = 0
  for (let dimension = 0; dimension < left.length; dimension++) {
    dot += left[dimension]! * right[dimension]!
    leftNorm += left[dimension]! * left[dimension]!
    rightNorm += right[dimension]! * right[dimension]!
  }
  return 1 - dot / (Math.sqrt(leftNorm * rightNorm) || 1)
}
