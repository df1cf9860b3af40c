// Liveness as measurement for Raft: elections per term change, how long the cluster went without a leader able to serve, and client latency, all from observed events.
import type { TraceFault } from "../trace/index.ts"
import type { HistoryEvent } from "./history.ts"
import { ascending, type Metric, percentile } from "./metrics.ts"

/** The metrics {@link RaftLiveness} measures, as a scenario's `checks` may bound them. */
export const RAFT_METRICS = [
  "elections",
  "elections-per-term-change",
  "leader-losses",
  "leader-recovery-ms-p50",
  "leader-recovery-ms-max",
  "client-latency-ms-p50",
  "client-latency-ms-p99",
  "client-latency-ms-max"
] as const

/**
 * A leader, as observed: the server that became leader of `term`; `gone` once it crashed or
 * stepped down (it cannot lead this term again), `paused` while it is paused.
 */
interface Leader {
  readonly node: string
  readonly term: number
  gone: boolean
  paused: boolean
}

/** A loss of leadership still open: since when, why, and whether an election for a later term began since. */
interface OpenLoss {
  readonly sinceUs: number
  readonly term: number
  readonly cause: string
  electionStarted: boolean
}

/** A loss that ended: how long it lasted and how it ended, for the worst one's description. */
interface EndedLoss {
  readonly durationUs: number
  readonly story: string
}

const seconds = (timeUs: number): string => `${(timeUs / 1e6).toFixed(3)} s`

/**
 * Measures a Raft run from what was observed: servers becoming candidate (`becomeCandidate`),
 * leader (`becomeLeader`) or stepping down (`stepDown`), the faults the harness injected, and
 * the clients' history. Nothing is taken from a server's claims about the cluster.
 *
 * A leader is *lost* at the first moment it cannot serve: it crashed, was paused, stepped down,
 * could no longer reach a majority of the voters both ways (counting itself, and only servers
 * that are up, neither crashed nor paused, and not cut off by a partition or clog), or some
 * server began an election for a later term (the cluster itself gave up on it, as after lost
 * or long-delayed heartbeats). The loss ends when a server becomes leader of a later term, or
 * when the same leader can serve again (resumed, healed) before any election for a later term
 * began. The first election of a run is not a loss: there was no leader to lose. A loss still
 * open when the run ends counts up to the end, so the maximum is never understated.
 */
export class RaftLiveness {
  private readonly voters: ReadonlyArray<string>
  private readonly blocked = new Set<string>()
  private readonly down = new Set<string>()
  private leader: Leader | undefined
  private loss: OpenLoss | undefined
  private readonly ended: Array<EndedLoss> = []
  private elections = 0
  private readonly leaderTerms = new Set<number>()
  private endUs = 0

  /** `voters`: the servers whose majority a leader needs (the cluster's founding members); none, not judged. */
  constructor(voters: ReadonlyArray<string>) {
    this.voters = voters
  }

  becomeCandidate(node: string, term: number, timeUs: number): void {
    this.elections++
    const leader = this.leader
    if (leader === undefined || term <= leader.term) return
    if (this.loss === undefined) this.open(timeUs, `${node} began an election for term ${term}`)
    this.loss!.electionStarted = true
  }

  becomeLeader(node: string, term: number, timeUs: number): void {
    this.leaderTerms.add(term)
    if (this.leader !== undefined && term <= this.leader.term) return
    const loss = this.loss
    if (loss !== undefined && term > loss.term) {
      this.close(timeUs, `${node} became leader of term ${term} at ${seconds(timeUs)}`)
    }
    this.leader = { node, term, gone: false, paused: false }
  }

  stepDown(node: string, term: number, timeUs: number): void {
    const leader = this.leader
    if (leader?.node !== node || leader.term !== term) return
    leader.gone = true
    if (this.loss === undefined) this.open(timeUs, `${node} stepped down as leader of term ${term}`)
  }

  /** Applies a fault to what is known of the network and the servers, then asks whether the leader can still serve. */
  onFault(fault: TraceFault, timeUs: number): void {
    const cause = this.applyFault(fault)
    const leader = this.leader
    if (leader === undefined) return
    const serving = this.canServe(leader)
    if (!serving && this.loss === undefined) {
      const what = "node" in fault ? `${fault._tag.toLowerCase()} of ${fault.node}` : fault._tag.toLowerCase()
      this.open(timeUs, cause ?? `the ${what} left ${leader.node} (leader of term ${leader.term}) without a majority`)
    }
    else if (serving && this.loss !== undefined && !this.loss.electionStarted && this.loss.term === leader.term) {
      this.close(timeUs, `${leader.node} could serve again at ${seconds(timeUs)}`)
    }
  }

  /** The run ended at `timeUs`: a loss still open counts up to here. */
  finish(timeUs: number): void {
    this.endUs = timeUs
  }

  /** The metrics, from these observations and the clients' `history`. */
  metrics(history: ReadonlyArray<HistoryEvent>): Array<Metric> {
    const metrics: Array<Metric> = [{ name: "elections", value: this.elections }]
    const termChanges = this.leaderTerms.size
    if (termChanges > 0) metrics.push({ name: "elections-per-term-change", value: this.elections / termChanges })
    else if (this.elections > 0) metrics.push({ name: "elections-per-term-change", value: Number.POSITIVE_INFINITY, detail: "no leader was ever elected" })
    const losses = [...this.ended]
    if (this.loss !== undefined) {
      const open = this.loss
      losses.push({ durationUs: this.endUs - open.sinceUs, story: `${open.cause} at ${seconds(open.sinceUs)}; still no leader when the run ended at ${seconds(this.endUs)}` })
    }
    metrics.push({ name: "leader-losses", value: losses.length })
    if (losses.length > 0) {
      const worst = losses.reduce((left, right) => (right.durationUs > left.durationUs ? right : left))
      const sorted = ascending(losses.map((loss) => loss.durationUs / 1000))
      metrics.push({ name: "leader-recovery-ms-p50", value: percentile(sorted, 0.5) })
      metrics.push({ name: "leader-recovery-ms-max", value: percentile(sorted, 1), detail: worst.story })
    }
    metrics.push(...clientLatencyMetrics(history))
    return metrics
  }

  private open(timeUs: number, cause: string): void {
    this.loss = { sinceUs: timeUs, term: this.leader!.term, cause, electionStarted: false }
  }

  private close(timeUs: number, ending: string): void {
    const loss = this.loss!
    this.ended.push({ durationUs: timeUs - loss.sinceUs, story: `${loss.cause} at ${seconds(loss.sinceUs)}; ${ending}` })
    this.loss = undefined
  }

  /** Whether `leader` is up and reaches a majority of the voters both ways. */
  private canServe(leader: Leader): boolean {
    if (leader.gone || leader.paused) return false
    // Without the voters known (a checker built only to read a history), reachability is not judged.
    if (this.voters.length === 0) return true
    const reachable = this.voters.filter(
      (voter) =>
        voter === leader.node ||
        (!this.down.has(voter) && !this.blocked.has(`${leader.node}>${voter}`) && !this.blocked.has(`${voter}>${leader.node}`))
    )
    return reachable.length > this.voters.length / 2
  }

  /** Updates the known state of servers and links; returns the fault's effect on the leader in words, when it has one. */
  private applyFault(fault: TraceFault): string | undefined {
    const leader = this.leader
    const isLeader = (node: string) => leader?.node === node
    switch (fault._tag) {
      case "Crash":
        this.down.add(fault.node)
        if (isLeader(fault.node)) leader!.gone = true
        return isLeader(fault.node) ? `${fault.node} (leader of term ${leader!.term}) crashed` : undefined
      case "Restart":
        this.down.delete(fault.node)
        return undefined
      case "Pause":
        this.down.add(fault.node)
        if (isLeader(fault.node)) leader!.paused = true
        return isLeader(fault.node) ? `${fault.node} (leader of term ${leader!.term}) was paused` : undefined
      case "Resume":
        this.down.delete(fault.node)
        if (isLeader(fault.node)) leader!.paused = false
        return undefined
      case "Partition":
        for (const group of fault.groups) {
          for (const other of fault.groups) {
            if (other === group) continue
            for (const source of group) for (const target of other) this.blocked.add(`${source}>${target}`)
          }
        }
        return leader === undefined ? undefined : `a partition cut ${leader.node} (leader of term ${leader.term}) off from a majority`
      case "PartitionOneWay":
        for (const source of fault.from) for (const target of fault.to) if (source !== target) this.blocked.add(`${source}>${target}`)
        return leader === undefined ? undefined : `a one-way partition cut ${leader.node} (leader of term ${leader.term}) off from a majority`
      case "Clog":
        this.blocked.add(`${fault.from}>${fault.to}`)
        return leader === undefined ? undefined : `clogged links cut ${leader.node} (leader of term ${leader.term}) off from a majority`
      case "Unclog":
        this.blocked.delete(`${fault.from}>${fault.to}`)
        return undefined
      case "Heal":
        this.blocked.clear()
        return undefined
      case "ClockOffset":
      case "ClockStep":
      case "ClockDrift":
      case "ClockReset":
      case "NetworkReset":
        return undefined
      default: {
        const unreachable: never = fault
        throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
      }
    }
  }
}

/**
 * Client latency: from each operation's invoke to the answer the client was given (`ok`, or a
 * definite `fail`), in simulated milliseconds. Operations whose outcome stayed unknown (`info`,
 * a timeout) are left out: their time is the client's timeout, not the cluster's.
 */
export const clientLatencyMetrics = (history: ReadonlyArray<HistoryEvent>): Array<Metric> => {
  const invoked = new Map<number, number>()
  const latenciesMs: Array<number> = []
  for (const event of history) {
    if (event.type === "invoke") invoked.set(event.process, event.time)
    else {
      const start = invoked.get(event.process)
      invoked.delete(event.process)
      if (start !== undefined && event.type !== "info") latenciesMs.push((event.time - start) / 1e6)
    }
  }
  if (latenciesMs.length === 0) return []
  const sorted = ascending(latenciesMs)
  return [
    { name: "client-latency-ms-p50", value: percentile(sorted, 0.5) },
    { name: "client-latency-ms-p99", value: percentile(sorted, 0.99) },
    { name: "client-latency-ms-max", value: percentile(sorted, 1) }
  ]
}
