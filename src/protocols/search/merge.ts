// Scatter-gather arithmetic: merging per-shard top-k lists into one global top-k, and choosing a replica by latency.

/** One shard's answer: ids and their distances, nearest first. */
export interface ShardHits {
  readonly ids: ReadonlyArray<number>
  readonly distances: ReadonlyArray<number>
}

/** A merge rule; replaceable so a test can plant a broken one. */
export type MergeRule = (answers: ReadonlyArray<ShardHits>, k: number) => ShardHits

/**
 * The global top-k of per-shard top-k lists: every global neighbour is in its own shard's top-k, so
 * sorting the union by distance (ties by id, so the order never depends on arrival) and keeping k is exact.
 * An id seen twice (a hedged answer merged twice would do it) is kept once.
 */
export const mergeTopK: MergeRule = (answers, k) => {
  const best = new Map<number, number>()
  for (const answer of answers) {
    answer.ids.forEach((id, position) => {
      const distance = answer.distances[position]!
      const known = best.get(id)
      if (known === undefined || distance < known) best.set(id, distance)
    })
  }
  const sorted = [...best].sort((left, right) => left[1] - right[1] || left[0] - right[0]).slice(0, k)
  return { ids: sorted.map(([id]) => id), distances: sorted.map(([, distance]) => distance) }
}

/**
 * The ef each shard searches with when a query asks for `ef` across `shards` shards: half of it when
 * there are several. A shard holds a fraction of the data, and the global top-k takes only its own
 * few nearest from each shard, which a search of half the ef over the smaller graph finds at least
 * as reliably as the full ef over one index of everything: measured by `npm run bench:search`
 * (100,000 vectors in 4 shards at ef/2 reach recall@10 0.979 / 0.998 / 1.000 against the single
 * index's 0.947 / 0.983 / 0.992 at ef 50 / 100 / 200), which prints both side by side on every run.
 */
export const shardEf = (ef: number, shards: number): number => (shards > 1 ? Math.max(1, Math.ceil(ef / 2)) : ef)

/** Weight of the newest sample in the moving average of a replica's latency. */
const LATENCY_WEIGHT = 0.3

/** Observed latency per node (an exponentially weighted moving average), for choosing whom to ask first. */
export class LatencyTracker {
  private readonly averageMs = new Map<string, number>()

  observe(node: string, latencyMs: number): void {
    const known = this.averageMs.get(node)
    this.averageMs.set(node, known === undefined ? latencyMs : known + LATENCY_WEIGHT * (latencyMs - known))
  }

  /** A shard that did not answer in time counts as slow as the timeout, so the next query tries another replica first. */
  penalize(node: string, timeoutMs: number): void {
    this.observe(node, timeoutMs)
  }

  /** `replicas` fastest first; nodes never measured come first (so each gets measured), ties in the given order. */
  order(replicas: ReadonlyArray<string>): Array<string> {
    const estimate = (node: string) => this.averageMs.get(node) ?? -1
    return replicas.map((node, position) => ({ node, position }))
      .sort((left, right) => estimate(left.node) - estimate(right.node) || left.position - right.position)
      .map(({ node }) => node)
  }
}
