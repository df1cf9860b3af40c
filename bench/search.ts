// Bench of the sharded search's index work: 4 shards side by side with one unsharded hnswlib-node index, in the same run.
// Reports build time, QPS and recall@10 at ef 50/100/200, their ratios, and the cost model the simulator should use.
// Usage: npm run bench:search [-- --vectors 100000 --queries 300]
import "../src/definition/registry.ts" // provides hnswlib-node to the search protocol
import hnswlib from "hnswlib-node"
import { makeMixture, makeShardMap, mergeTopK, ShardIndex, shardOf } from "../src/protocols/search/index.ts"

const argument = (name: string, fallback: number): number => {
  const position = process.argv.indexOf(`--${name}`)
  if (position < 0) return fallback
  const value = Number(process.argv[position + 1])
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`--${name} must be a positive integer, got ${process.argv[position + 1]}`)
    process.exit(2)
  }
  return value
}

const vectors = argument("vectors", 100_000)
const queries = argument("queries", 300)
const dimensions = 128
const k = 10
const shards = 4
const options = { space: "l2" as const, dimensions, m: 16, efConstruction: 100, randomSeed: 100 }
const mixture = makeMixture({ seed: 1, dimensions, clusters: 64, spread: 0.15 })
const data = Array.from({ length: vectors }, (_, id) => Array.from(mixture.vector(id)))
const queryVectors = Array.from({ length: queries }, (_, index) => Array.from(mixture.vector(vectors + index)))

const timed = <A>(work: () => A): { result: A; ms: number } => {
  const started = performance.now()
  const result = work()
  return { result, ms: performance.now() - started }
}

// Exact answers from hnswlib's native brute force.
const exact = new hnswlib.BruteforceSearch("l2", dimensions)
exact.initIndex(vectors)
data.forEach((vector, id) => exact.addPoint(vector, id))
const truth = queryVectors.map((query) => new Set(exact.searchKnn(query, k).neighbors))
const recallOf = (answers: ReadonlyArray<ReadonlyArray<number>>) =>
  answers.reduce((sum, ids, index) => sum + ids.filter((id) => truth[index]!.has(id)).length / k, 0) / answers.length

const single = timed(() => {
  const index = new ShardIndex(options)
  data.forEach((vector, id) => index.insert(id, vector))
  return index
})
const map = makeShardMap({ shards, nodes: ["n1"], replicationFactor: 1 })
const sharded = timed(() => {
  const indexes = new Map(map.shards.map((shard) => [shard, new ShardIndex(options)]))
  data.forEach((vector, id) => indexes.get(shardOf(map, id))!.insert(id, vector))
  return indexes
})

console.log(`search bench: ${vectors} clustered ${dimensions}-d vectors, ${shards} shards, ${queries} queries, k ${k}, M ${options.m}, efConstruction ${options.efConstruction}`)
console.log(`shard sizes   ${[...sharded.result.values()].map((index) => index.size).join(" / ")}`)
console.log(`build         single ${(single.ms / 1000).toFixed(1)} s, sharded ${(sharded.ms / 1000).toFixed(1)} s (ratio ${(sharded.ms / single.ms).toFixed(2)}x)`)
const perShardQueryMs: Array<[number, number]> = []
for (const ef of [50, 100, 200]) {
  const one = timed(() => queryVectors.map((query) => single.result.search(query, k, ef).ids))
  const many = timed(() => queryVectors.map((query) => mergeTopK([...sharded.result.values()].map((index) => index.search(query, k, ef)), k).ids))
  const singleQps = queries / (one.ms / 1000)
  const shardedQps = queries / (many.ms / 1000)
  perShardQueryMs.push([ef, many.ms / queries / shards])
  console.log(
    `ef ${String(ef).padEnd(4)}      single recall@10 ${recallOf(one.result).toFixed(4)} at ${singleQps.toFixed(0)} QPS; ` +
      `sharded recall@10 ${recallOf(many.result).toFixed(4)} at ${shardedQps.toFixed(0)} QPS (QPS ratio ${(shardedQps / singleQps).toFixed(2)}x)`
  )
}
// Cost model for the simulator: per-shard query time as base + perEf * ef (a line through ef 50 and 200), insert time per vector.
const [[lowEf, lowMs], , [highEf, highMs]] = perShardQueryMs as [[number, number], [number, number], [number, number]]
const perEf = (highMs - lowMs) / (highEf - lowEf)
console.log(`cost model    queryBaseMs ${Math.max(0, lowMs - perEf * lowEf).toFixed(4)}, queryPerEfMs ${perEf.toFixed(5)}, insertMs ${(sharded.ms / vectors).toFixed(4)}`)
