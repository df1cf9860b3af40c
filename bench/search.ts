// Bench of the sharded search's index work: 4 shards side by side with one unsharded hnswlib-node index, in the same run.
// Reports build time, QPS and recall@10 at ef 50/100/200, their ratios, and the cost model the simulator should use.
// Each query measurement is the fastest of five interleaved rounds over the same queries (the first also warms up).
// Three ways to search the shards, each against the single index at the same ef and k:
//   - in turn, each shard at the query's ef (what a naive scatter-gather costs in one thread);
//   - in turn, each shard at shardEf(ef) = ef/2 (the protocol's rule: recall is printed beside the single index's);
//   - in parallel, one worker thread per shard at shardEf(ef), queries sent in batches: four shard servers, here on
//     however many cores the machine has (the single index runs in one thread, as one hnswlib-node searchKnn does).
// Usage: npm run bench:search [-- --vectors 100000 --queries 300]
import "../src/definition/registry.ts" // provides hnswlib-node to the search protocol
import hnswlib from "hnswlib-node"
import { availableParallelism, loadavg } from "node:os"
import { Worker } from "node:worker_threads"
import { makeMixture, makeShardMap, mergeTopK, ShardIndex, shardEf, type ShardHits, shardOf } from "../src/protocols/search/index.ts"
import type { ShardRequest, ShardServerOptions } from "./search-shard-server.ts"

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
/** Queries per message to the shard servers: a server under load takes what is waiting, not one query per round trip. */
const BATCH_QUERIES = 16
const options = { space: "l2" as const, dimensions, m: 16, efConstruction: 100, randomSeed: 100 }
const mixtureOptions = { seed: 1, dimensions, clusters: 64, spread: 0.15 }
const mixture = makeMixture(mixtureOptions)
const data = Array.from({ length: vectors }, (_, id) => Array.from(mixture.vector(id)))
const queryVectors = Array.from({ length: queries }, (_, index) => Array.from(mixture.vector(vectors + index)))

const timed = <A>(work: () => A): { result: A; ms: number } => {
  const started = performance.now()
  const result = work()
  return { result, ms: performance.now() - started }
}

/**
 * Rounds of the query measurements. Each round measures every way once, one after another, so a burst of
 * other work on a shared machine slows the ways alike; each way's fastest round counts.
 */
const ROUNDS = 5

/** Answers, wall time, and the process's CPU time (all threads): on a machine shared with other work, CPU time shows the work. */
type Measured = { readonly result: ReadonlyArray<ReadonlyArray<number>>; readonly ms: number; readonly cpuMs: number }

/** Each of `ways` timed in `ROUNDS` interleaved rounds; the fastest round of each. */
const fastestInterleaved = async (ways: ReadonlyArray<() => ReadonlyArray<ReadonlyArray<number>> | Promise<ReadonlyArray<ReadonlyArray<number>>>>) => {
  const best: Array<Measured | undefined> = ways.map(() => undefined)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, work] of ways.entries()) {
      const started = performance.now()
      const cpuStarted = process.cpuUsage()
      const result = await work()
      const ms = performance.now() - started
      const cpu = process.cpuUsage(cpuStarted)
      const cpuMs = (cpu.user + cpu.system) / 1000
      const known = best[index]
      best[index] = { result, ms: Math.min(ms, known?.ms ?? ms), cpuMs: Math.min(cpuMs, known?.cpuMs ?? cpuMs) }
    }
  }
  return best as Array<Measured>
}

/** A shard server in a worker thread, asked one batch at a time. */
const startShardServer = (shard: string) => {
  const serverOptions: ShardServerOptions = { vectors, shards, shard, index: options, mixture: mixtureOptions }
  const worker = new Worker(new URL("./worker-entry.js", import.meta.url), {
    workerData: { module: new URL("./search-shard-server.ts", import.meta.url).href, name: "serveShard", args: [serverOptions] }
  })
  let waiting: ((value: unknown) => void) | undefined
  worker.on("message", (value) => waiting?.(value))
  worker.on("error", (error) => {
    console.error(`shard server ${shard} failed: ${error.message}`)
    process.exit(1)
  })
  const next = <A>() => new Promise<A>((resolve) => (waiting = resolve as (value: unknown) => void))
  return {
    ready: next<{ buildMs: number; size: number }>(),
    ask: (request: ShardRequest) => {
      const answer = next<Array<ShardHits>>()
      worker.postMessage(request)
      return answer
    },
    stop: () => worker.terminate()
  }
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
const servers = map.shards.map(startShardServer)
// Each server times its own build (drawing its vectors included): worker start-up and module loading are left out.
const parallelBuildMs = Math.max(...(await Promise.all(servers.map((server) => server.ready))).map((ready) => ready.buildMs))

/** Every query through the shard servers at once, batch by batch, merged into the global top-k. */
const searchParallel = async (ef: number) => {
  const answers: Array<ReadonlyArray<number>> = []
  for (let start = 0; start < queries; start += BATCH_QUERIES) {
    const batch = queryVectors.slice(start, start + BATCH_QUERIES)
    const perShard = await Promise.all(servers.map((server) => server.ask({ k, ef, queries: batch })))
    batch.forEach((_, index) => answers.push(mergeTopK(perShard.map((hits) => hits[index]!), k).ids))
  }
  return answers
}

const [load1, load5] = loadavg()
console.log(`search bench: ${vectors} clustered ${dimensions}-d vectors, ${shards} shards, ${queries} queries, k ${k}, M ${options.m}, efConstruction ${options.efConstruction}`)
console.log(`machine       ${availableParallelism()} cores, load average ${load1!.toFixed(1)} (1 min) ${load5!.toFixed(1)} (5 min) at the start of the queries`)
console.log(`shard sizes   ${[...sharded.result.values()].map((index) => index.size).join(" / ")}`)
console.log(
  `build         single ${(single.ms / 1000).toFixed(1)} s, sharded in turn ${(sharded.ms / 1000).toFixed(1)} s (ratio ${(sharded.ms / single.ms).toFixed(2)}x), ` +
    `4 shard servers at once ${(parallelBuildMs / 1000).toFixed(1)} s (ratio ${(parallelBuildMs / single.ms).toFixed(2)}x, drawing their vectors included)`
)
const perShardQueryMs: Array<[number, number]> = []
for (const ef of [50, 100, 200]) {
  const inTurn = (shardSearchEf: number) => () =>
    queryVectors.map((query) => mergeTopK([...sharded.result.values()].map((index) => index.search(query, k, shardSearchEf)), k).ids)
  const [one, full, halved, parallel] = (await fastestInterleaved([
    () => queryVectors.map((query) => single.result.search(query, k, ef).ids),
    inTurn(ef),
    inTurn(shardEf(ef, shards)),
    () => searchParallel(shardEf(ef, shards))
  ])) as [Measured, Measured, Measured, Measured]
  perShardQueryMs.push([ef, full.ms / queries / shards])
  const qps = (ms: number) => queries / (ms / 1000)
  const line = (label: string, run: Measured) =>
    `    ${label.padEnd(34)} recall@10 ${recallOf(run.result).toFixed(4)} at ${qps(run.ms).toFixed(0).padStart(5)} QPS (ratio ${(one.ms / run.ms).toFixed(2)}x), ` +
    `${qps(run.cpuMs).toFixed(0).padStart(5)} per CPU second (ratio ${(one.cpuMs / run.cpuMs).toFixed(2)}x)`
  console.log(
    `ef ${ef}: single index            recall@10 ${recallOf(one.result).toFixed(4)} at ${qps(one.ms).toFixed(0).padStart(5)} QPS, ` +
      `${qps(one.cpuMs).toFixed(0).padStart(5)} per CPU second`
  )
  console.log(line(`shards in turn, shard ef ${ef}`, full))
  console.log(line(`shards in turn, shard ef ${shardEf(ef, shards)}`, halved))
  console.log(line(`4 shard servers, shard ef ${shardEf(ef, shards)}`, parallel))
}
await Promise.all(servers.map((server) => server.stop()))
// Cost model for the simulator: per-shard query time as base + perEf * ef (a line through ef 50 and 200), insert time per vector.
const [[lowEf, lowMs], , [highEf, highMs]] = perShardQueryMs as [[number, number], [number, number], [number, number]]
const perEf = (highMs - lowMs) / (highEf - lowEf)
console.log(`cost model    queryBaseMs ${Math.max(0, lowMs - perEf * lowEf).toFixed(4)}, queryPerEfMs ${perEf.toFixed(5)}, insertMs ${(sharded.ms / vectors).toFixed(4)}`)
