// Checks a Raft run from its protocol events: election safety, state machine safety, leader completeness, linearizability, liveness.
import type { Checker, FinalState, ProtocolEvent, Violation } from "./checker.ts"
import { type HistoryEvent, operationsFromEvents } from "./history.ts"
import { boundedReport, KvHistoryRecorder, type Report } from "./kv-history.ts"
import { checkLinearizability, type LinearizabilityResult } from "./linearizability.ts"
import type { Metric } from "./metrics.ts"
import { RAFT_METRICS, RaftLiveness } from "./raft-liveness.ts"
import type { TraceFault } from "../trace/index.ts"
import type { JsonValue } from "../env/json.ts"
import { jsonEqual } from "../protocols/raft/index.ts"

/** Options of {@link RaftChecker}. */
export interface RaftCheckerOptions {
  /** After the faults heal, some client operation must succeed within this many milliseconds. */
  readonly livenessBoundMs: number
  /** The linearizability search gives up ("unknown") after this long. */
  readonly linearizabilityBudgetMs: number
  /** The servers whose majority a leader needs, for measuring lost leadership (see RaftLiveness). */
  readonly voters?: ReadonlyArray<string>
}

/**
 * Rules, each from the Raft paper (Figure 3) or Jepsen:
 * - `election-safety`: at most one leader per term.
 * - `state-machine-safety`: no two servers apply different entries at one index (this also covers
 *   log matching as far as it is observable, and committed entries lost across crashes: a lost
 *   entry is overwritten and applied differently).
 * - `leader-completeness`: a new leader's log holds every entry applied anywhere before its election.
 * - `linearizability`: the clients' history is linearizable for a key-value store.
 * - `liveness`: once faults heal, a client operation succeeds within the bound.
 *
 * It also measures the run (see RaftLiveness): how contested elections were, how long leadership
 * was lost, and client latency; a scenario may bound those figures in its `checks`.
 */
export class RaftChecker implements Checker {
  readonly checks = ["election-safety", "state-machine-safety", "leader-completeness", "linearizability", "liveness"]
  readonly livenessChecks = ["liveness"]
  readonly metricNames: ReadonlyArray<string> = RAFT_METRICS
  readonly violations: Array<Violation> = []
  readonly notes: Array<string> = []
  private readonly recorder: KvHistoryRecorder
  private readonly report: Report
  private readonly leaders = new Map<number, string>()
  private readonly applied = new Map<number, { term: number; command: JsonValue; node: string; latestLeaderTerm: number }>()
  /** The highest term any leader was elected in so far (0 before the first election). */
  private latestLeaderTerm = 0
  private readonly liveness: RaftLiveness

  constructor(private readonly options: RaftCheckerOptions) {
    this.recorder = new KvHistoryRecorder(options.livenessBoundMs)
    this.report = boundedReport(this.violations)
    this.liveness = new RaftLiveness(options.voters ?? [])
  }

  /** The clients' history, in order, with simulated time in nanoseconds. */
  get history(): Array<HistoryEvent> {
    return this.recorder.history
  }

  /** `liveness` waits up to the bound for an operation to succeed, so a shorter phase proves nothing. */
  get minimumLivenessMs(): number {
    return this.options.livenessBoundMs
  }

  onEvent(event: ProtocolEvent): void {
    switch (event.name) {
      case "becomeLeader":
        this.liveness.becomeLeader(event.node, event.attributes.term as number, event.timeUs)
        return this.becomeLeader(event)
      case "becomeCandidate":
        return this.liveness.becomeCandidate(event.node, event.attributes.term as number, event.timeUs)
      case "stepDown":
        return this.liveness.stepDown(event.node, event.attributes.term as number, event.timeUs)
      case "apply":
        return this.apply(event)
      case "history":
        this.recorder.record(event)
        return
      default:
        return
    }
  }

  onFault(fault: TraceFault, timeUs: number): void {
    this.liveness.onFault(fault, timeUs)
  }

  metrics(): ReadonlyArray<Metric> {
    return this.liveness.metrics(this.history)
  }

  onLivenessStart(timeUs: number): void {
    this.recorder.onLivenessStart(timeUs)
  }

  finish(final: FinalState): void {
    this.liveness.finish(final.timeUs)
    this.recorder.checkLiveness(final, this.report)
    const parsed = operationsFromEvents(this.history, "history")
    if (parsed._tag === "ParseError") {
      this.report("linearizability", `the clients wrote a malformed history: ${parsed.message}`, final.timeUs)
      return
    }
    const result = checkLinearizability(parsed.operations, { timeBudgetMs: this.options.linearizabilityBudgetMs })
    switch (result._tag) {
      case "Linearizable":
        return
      case "Unknown":
        this.notes.push(`linearizability: unknown (${result.reason})`)
        return
      case "NotLinearizable":
        this.report("linearizability", notLinearizableMessage(result), final.timeUs)
        return
      default: {
        const unreachable: never = result
        throw new Error(`unknown result ${JSON.stringify(unreachable)}`)
      }
    }
  }

  private becomeLeader(event: ProtocolEvent): void {
    const { term, runs, snapshotIndex, lastIndex } = event.attributes as {
      term: number
      runs: ReadonlyArray<readonly [number, number]>
      snapshotIndex: number
      lastIndex: number
    }
    const previous = this.leaders.get(term)
    if (previous !== undefined && previous !== event.node) {
      this.report("election-safety", `term ${term} has two leaders: ${previous} and ${event.node}`, event.timeUs)
    }
    this.leaders.set(term, event.node)
    this.latestLeaderTerm = Math.max(this.latestLeaderTerm, term)
    const termAt = (index: number): number | undefined => {
      if (index > lastIndex) return undefined
      let found: number | undefined
      for (const [start, runTerm] of runs) if (start <= index) found = runTerm
      return found
    }
    for (const [index, entry] of this.applied) {
      // The property covers entries committed in earlier terms (Figure 3). An entry applied while
      // no leader of this term or later had been elected was committed in an earlier term; others
      // may have been committed in a later term, which a stale leader (one that was paused, say,
      // while the cluster moved on) need not hold.
      if (index <= snapshotIndex || entry.latestLeaderTerm >= term) continue
      const held = termAt(index)
      if (held !== entry.term) {
        this.report(
          "leader-completeness",
          `${event.node} became leader of term ${event.attributes.term} without committed entry ${index} (term ${entry.term}, ` +
            `applied by ${entry.node}); its log has ${held === undefined ? "nothing" : `term ${held}`} there`,
          event.timeUs
        )
        return
      }
    }
  }

  private apply(event: ProtocolEvent): void {
    const { index, term, command } = event.attributes as { index: number; term: number; command: JsonValue }
    const known = this.applied.get(index)
    if (known === undefined) {
      // The attributes were encoded into the trace already; keeping the object spares encoding
      // it again for every server that applies the entry.
      this.applied.set(index, { term, command, node: event.node, latestLeaderTerm: this.latestLeaderTerm })
    } else if (known.term !== term || !sameCommand(known.command, command)) {
      this.report(
        "state-machine-safety",
        `${event.node} applied ${JSON.stringify(command)} (term ${term}) at index ${index}, ` +
          `where ${known.node} applied ${JSON.stringify(known.command)} (term ${known.term})`,
        event.timeUs
      )
    }
  }
}

/**
 * Whether two servers applied the same command. Structural equality settles it almost always; when
 * it says no, the JSON texts decide, since one server's command may be the leader's own object (with,
 * say, an undefined field) and the other's a decoded copy without it.
 */
const sameCommand = (left: JsonValue, right: JsonValue): boolean =>
  jsonEqual(left, right) || JSON.stringify(left) === JSON.stringify(right)

/** A linearizability violation in words, as `faultline run` prints it: the witness's operations, then the checker's explanation. */
export const notLinearizableMessage = (result: Extract<LinearizabilityResult, { _tag: "NotLinearizable" }>): string => {
  const operations = result.operations.map((operation) => `${operation._tag.toLowerCase()} by process ${operation.process}`).join(", ")
  return `key ${result.key}: ${operations} cannot be linearized. ${result.explanation}`
}
