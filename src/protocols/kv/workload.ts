// What every key-value client workload shares: the history entries it reports (Jepsen's format,
// recorded as `history` trace events for the checkers) and the weighted choice of the next operation.
import { Effect } from "effect"
import { Tracing } from "../../env/index.ts"
import type { JsonValue } from "../../env/json.ts"
import type { Placement } from "./workload-shape.ts"

/** The operations a key-value history names (Jepsen's `f`). */
export type KvFunction = "read" | "write" | "cas" | "append" | "delete"

/** The trace event name under which clients report their history. */
export const HISTORY_EVENT = "history"

/** What every key-value client workload states, whatever the store. */
export interface KvWorkloadOptions {
  /** The servers the client may talk to. */
  readonly servers: ReadonlyArray<string>
  readonly keys: ReadonlyArray<string>
  /** Operations this client issues in the whole run. */
  readonly operations: number
  /** Pause between two operations. */
  readonly thinkMs: number
  /** How long one attempt waits for a reply before trying another server. */
  readonly requestTimeoutMs: number
  /** How long an operation may take in all before its outcome is recorded as unknown. */
  readonly operationTimeoutMs: number
  /** Where the client sends its requests (see Placement); follow-leader when left out. */
  readonly placement?: Placement | undefined
  /** The share of operations on the contended keys, from 0 (none, when left out) to 1 (all). */
  readonly hotKeyShare?: number | undefined
}

/** A history entry as the client reports it; the checker adds the index and the time. */
export interface HistoryReport {
  readonly process: number
  readonly type: "invoke" | "ok" | "fail" | "info"
  readonly f: KvFunction
  readonly key: string
  readonly value: JsonValue | null
  /**
   * Quorum store writes: the values of the versions this write names as read (its causal context),
   * which it supersedes. What a client was told, so checkers may rely on it.
   */
  readonly supersedes?: ReadonlyArray<JsonValue>
}

/**
 * Reports history entries as trace events through `tracing`: a client looks its Tracing service up
 * once, and each entry is then one effect, not a generator and a lookup of its own.
 */
export const historyRecorder = (tracing: Tracing["Service"]) => (report: HistoryReport): Effect.Effect<void> =>
  tracing.event(HISTORY_EVENT, report as unknown as Record<string, unknown>)

/**
 * Picks one of `functions` by weight: `draw` in [0, 1) falls in one function's share of the total.
 * The weights are summed in the order given, so a workload's choices stay the same for a seed.
 */
export const pickWeighted = <F extends string>(
  functions: ReadonlyArray<F>,
  weights: { readonly [K in F]: number },
  draw: number
): F => {
  let total = 0
  for (const f of functions) total += weights[f]
  let point = draw * total
  for (const f of functions) {
    if (point < weights[f]) return f
    point -= weights[f]
  }
  return functions[0]!
}
