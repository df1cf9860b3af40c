// What every checker has in common: it reads protocol events as they happen and reports violations.
import type { TraceFault } from "../trace/index.ts"
import type { Metric } from "./metrics.ts"

/** A protocol event as checkers see it: from the simulator live, or read back from a trace. */
export interface ProtocolEvent {
  readonly timeUs: number
  readonly node: string
  readonly name: string
  readonly attributes: Readonly<Record<string, unknown>>
}

/** One broken rule, with when and why. */
export interface Violation {
  readonly check: string
  readonly message: string
  readonly timeUs: number
}

/** The cluster as it stands when the run ends. */
export interface FinalState {
  readonly timeUs: number
  /** Servers that are up (not crashed) at the end. */
  readonly up: ReadonlyArray<string>
}

/** A checker. `checks` names every rule it can report on, so a summary can say which held. */
export interface Checker {
  readonly checks: ReadonlyArray<string>
  /**
   * The checks among `checks` that judge progress (eventual delivery, a client operation that
   * succeeds after healing) and so need the run's liveness phase; the others are safety checks,
   * judged on whatever happened. A checker that leaves this out has every one of its checks
   * treated as possibly needing the phase: shrinking then never shortens it.
   */
  readonly livenessChecks?: ReadonlyArray<string>
  /**
   * The shortest liveness phase on which `livenessChecks` can be judged fairly (default: any
   * phase at all). A run with a shorter phase does not report them, and says so in a note.
   */
  readonly minimumLivenessMs?: number
  /**
   * The metrics this checker measures (see {@link Metric}), by name, so that a scenario's bound
   * on an unknown one is refused before the run.
   */
  readonly metricNames?: ReadonlyArray<string>
  onEvent(event: ProtocolEvent): void
  /** Called when the harness injects or heals a fault (the simulator's own fault lines). */
  onFault?(fault: TraceFault, timeUs: number): void
  /** Called when the faults are healed and the liveness phase starts. */
  onLivenessStart?(timeUs: number): void
  finish(final: FinalState): void
  /** What the run measured, once `finish` was called; a metric with no sample is left out. */
  metrics?(): ReadonlyArray<Metric>
  readonly violations: ReadonlyArray<Violation>
  /** Remarks that are not violations (a check that could not decide in its time budget). */
  readonly notes?: ReadonlyArray<string>
}
