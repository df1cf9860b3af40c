// Checks sharded vector search from its trace: recall against exact search, durability of acknowledged writes,
// honest flagging of partial answers, and no duplicate hits.
import type { Checker, FinalState, ProtocolEvent, Violation } from "./checker.ts"

/** What the checker needs to recompute exact answers: the data set, by id, and the distance the index uses. */
export interface SearchCheckerOptions {
  readonly vector: (index: number) => Float32Array
  readonly distance: (left: Float32Array, right: Float32Array) => number
  readonly shards: ReadonlyArray<string>
  readonly k: number
  /** Mean recall@k over complete answers must reach this. */
  readonly minRecall: number
}

interface QueryFacts {
  invokedUs: number
  vectorIndex: number
}

interface ReplicaLog {
  /** Ids by log position in the replica's current incarnation (what `stored` and `recover` showed). */
  readonly ids: Array<number>
  /** The highest position the replica acknowledged as durable. */
  maxAcked: number
}

const numberAttribute = (event: ProtocolEvent, name: string): number => {
  const value = event.attributes[name]
  if (typeof value !== "number") throw new TypeError(`a ${event.name} event needs a numeric ${name}, got ${JSON.stringify(value)}`)
  return value
}

const stringAttribute = (event: ProtocolEvent, name: string): string => {
  const value = event.attributes[name]
  if (typeof value !== "string") throw new TypeError(`a ${event.name} event needs a string ${name}, got ${JSON.stringify(value)}`)
  return value
}

const percentile = (sorted: ReadonlyArray<number>, fraction: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0

/**
 * Rules:
 * - `recall`: the mean recall@k of complete answers, against exact search over the vectors whose
 *   insert was acknowledged before the query began (ids whose fate was still open are left out of both:
 *   one the answer holds joins the truth's candidates, one it leaves out is not missed).
 * - `acked-durable`: a replica that acknowledged a write at log position p recovers at least p+1 entries.
 * - `no-lost-insert`: every acknowledged, undeleted insert is held by some replica at the end.
 * - `partial-flagged`: an answer not flagged partial had every shard served by a replica.
 * - `no-duplicates`: an answer lists each id once, and at most k of them.
 */
export class SearchChecker implements Checker {
  readonly checks = ["recall", "acked-durable", "no-lost-insert", "partial-flagged", "no-duplicates"]
  readonly livenessChecks: ReadonlyArray<string> = []
  readonly violations: Array<Violation> = []
  readonly notes: Array<string> = []
  private readonly insertInvokedUs = new Map<number, number>()
  private readonly insertOkUs = new Map<number, number>()
  private readonly deleteInvokedUs = new Map<number, number>()
  private readonly deleteOkUs = new Map<number, number>()
  private readonly queries = new Map<string, QueryFacts>()
  private readonly served = new Set<string>()
  private readonly logs = new Map<string, ReplicaLog>()
  private readonly results: Array<{ readonly event: ProtocolEvent; readonly facts: QueryFacts }> = []
  private readonly reported = new Map<string, number>()

  /** Vectors regenerated from their ids, once each: every query's exact search reads all of them. */
  private readonly vectors = new Map<number, Float32Array>()

  constructor(private readonly options: SearchCheckerOptions) {}

  private vectorOf(index: number): Float32Array {
    let vector = this.vectors.get(index)
    if (vector === undefined) {
      vector = this.options.vector(index)
      this.vectors.set(index, vector)
    }
    return vector
  }

  onEvent(event: ProtocolEvent): void {
    switch (event.name) {
      case "invoke":
        this.timeOf(event, "invoke").set(numberAttribute(event, "id"), event.timeUs)
        break
      case "ok":
        this.timeOf(event, "ok").set(numberAttribute(event, "id"), event.timeUs)
        break
      case "stored":
        this.logOf(event).ids[numberAttribute(event, "position")] = numberAttribute(event, "id")
        break
      case "acked": {
        const log = this.logOf(event)
        log.maxAcked = Math.max(log.maxAcked, numberAttribute(event, "position"))
        break
      }
      case "recover":
        this.recover(event)
        break
      case "queryInvoke":
        this.queries.set(`${event.node}/${numberAttribute(event, "query")}`, { invokedUs: event.timeUs, vectorIndex: numberAttribute(event, "vectorIndex") })
        break
      case "served":
        this.served.add(`${stringAttribute(event, "client")}/${numberAttribute(event, "query")}/${stringAttribute(event, "shard")}`)
        break
      case "queryResult":
        this.queryResult(event)
        break
      default:
        break
    }
  }

  finish(final: FinalState): void {
    this.checkHoldings(final.timeUs)
    this.checkRecall(final.timeUs)
  }

  private timeOf(event: ProtocolEvent, phase: "invoke" | "ok"): Map<number, number> {
    const op = stringAttribute(event, "op")
    if (op === "insert") return phase === "invoke" ? this.insertInvokedUs : this.insertOkUs
    return phase === "invoke" ? this.deleteInvokedUs : this.deleteOkUs
  }

  private logOf(event: ProtocolEvent): ReplicaLog {
    const key = `${event.node}/${stringAttribute(event, "shard")}`
    let log = this.logs.get(key)
    if (log === undefined) {
      log = { ids: [], maxAcked: -1 }
      this.logs.set(key, log)
    }
    return log
  }

  private recover(event: ProtocolEvent): void {
    const log = this.logOf(event)
    const entries = numberAttribute(event, "entries")
    if (log.maxAcked >= entries) {
      this.report("acked-durable", `${event.node} acknowledged entry ${log.maxAcked} of shard ${stringAttribute(event, "shard")}'s log, but recovered only ${entries} entries`, event.timeUs)
    }
    log.ids.length = Math.min(log.ids.length, entries)
    log.maxAcked = Math.min(log.maxAcked, entries - 1)
  }

  private queryResult(event: ProtocolEvent): void {
    const query = numberAttribute(event, "query")
    const facts = this.queries.get(`${event.node}/${query}`)
    if (facts === undefined) throw new TypeError(`${event.node} reported query ${query}, which it never began`)
    const ids = event.attributes["ids"] as ReadonlyArray<number>
    if (new Set(ids).size !== ids.length || ids.length > this.options.k) {
      this.report("no-duplicates", `${event.node}'s query ${query} answered ${JSON.stringify(ids)}: ${ids.length} ids, ${new Set(ids).size} distinct, k = ${this.options.k}`, event.timeUs)
    }
    if (event.attributes["partial"] === true) {
      this.results.push({ event, facts })
      return
    }
    const unserved = this.options.shards.filter((shard) => !this.served.has(`${event.node}/${query}/${shard}`))
    if (unserved.length > 0) {
      this.report("partial-flagged", `${event.node}'s query ${query} was not flagged partial, but no replica served shard ${unserved.join(", ")}`, event.timeUs)
    }
    this.results.push({ event, facts })
  }

  private checkHoldings(timeUs: number): void {
    const held = new Set<number>()
    for (const log of this.logs.values()) for (const id of log.ids) if (id !== undefined) held.add(id)
    const lost = [...this.insertOkUs.keys()].filter((id) => !held.has(id) && !this.deleteInvokedUs.has(id)).sort((a, b) => a - b)
    if (lost.length > 0) {
      this.report("no-lost-insert", `acknowledged inserts held by no replica: ${lost.slice(0, 5).join(", ")}${lost.length > 5 ? `, … (${lost.length} in all)` : ""}`, timeUs)
    }
  }

  /**
   * Recall@k of one complete answer. An id whose fate was still open (its insert not acknowledged before the query
   * began, a timed-out insert, a delete in flight) may rightly be in the answer or not, so it is left out of both
   * sides: one the answer holds counts as there (the truth is the exact top-k of the acknowledged ids and it), one the
   * answer leaves out as not there. Judging such an id in the answer as neither hit nor truth would take its slot
   * of the k from the answer while the truth kept all k of its own, costing a correct answer 1/k per open id.
   */
  private recallOf(ids: ReadonlyArray<number>, facts: QueryFacts, resultUs: number): number | undefined {
    const present = (id: number) => (this.insertOkUs.get(id) ?? Infinity) < facts.invokedUs && (this.deleteInvokedUs.get(id) ?? Infinity) > resultUs
    const absent = (id: number) => (this.deleteOkUs.get(id) ?? Infinity) < facts.invokedUs
    const answered = new Set(ids)
    const open = (id: number) => answered.has(id) && !absent(id) && (this.insertInvokedUs.get(id) ?? Infinity) < resultUs
    const query = this.options.vector(facts.vectorIndex)
    const truth = nearest(this.options.k, (visit) => {
      for (const id of this.insertInvokedUs.keys()) if (present(id) || open(id)) visit(id, this.options.distance(query, this.vectorOf(id)))
    })
    if (truth.length === 0) return undefined
    const expected = new Set(truth)
    return ids.filter((id) => expected.has(id)).length / Math.min(this.options.k, truth.length)
  }

  private checkRecall(timeUs: number): void {
    const recalls: Array<number> = []
    const latencies: Array<number> = []
    let partial = 0
    for (const { event, facts } of this.results) {
      latencies.push(numberAttribute(event, "latencyMs"))
      if (event.attributes["partial"] === true) {
        partial++
        continue
      }
      const recall = this.recallOf(event.attributes["ids"] as ReadonlyArray<number>, facts, event.timeUs)
      if (recall !== undefined) recalls.push(recall)
    }
    latencies.sort((a, b) => a - b)
    const mean = recalls.reduce((sum, value) => sum + value, 0) / Math.max(recalls.length, 1)
    this.notes.push(
      `search: ${this.results.length} queries (${partial} partial), recall@${this.options.k} ${mean.toFixed(4)} over ${recalls.length} complete; ` +
        `latency p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms`
    )
    if (recalls.length > 0 && mean < this.options.minRecall) {
      this.report("recall", `mean recall@${this.options.k} is ${mean.toFixed(4)} over ${recalls.length} complete answers, below ${this.options.minRecall}`, timeUs)
    }
  }

  private report(check: string, message: string, timeUs: number): void {
    const count = this.reported.get(check) ?? 0
    this.reported.set(check, count + 1)
    if (count < 5) this.violations.push({ check, message, timeUs })
  }
}

/**
 * The ids of the `k` nearest of those `each` visits, nearest first, ties to the smaller id: what
 * sorting them all by distance and taking `k` gives, kept in a list of `k` as they come (a
 * checker runs this for every query of a run, over every id).
 */
export const nearest = (k: number, each: (visit: (id: number, distance: number) => void) => void): Array<number> => {
  const ids: Array<number> = []
  const distances: Array<number> = []
  each((id, distance) => {
    const last = ids.length - 1
    if (ids.length === k && (distance > distances[last]! || (distance === distances[last]! && id > ids[last]!))) return
    let at = ids.length
    while (at > 0 && (distances[at - 1]! > distance || (distances[at - 1] === distance && ids[at - 1]! > id))) at--
    ids.splice(at, 0, id)
    distances.splice(at, 0, distance)
    if (ids.length > k) {
      ids.pop()
      distances.pop()
    }
  })
  return ids
}
