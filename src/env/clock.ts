// Time as a node sees it: its own clock (which may be skewed or drift) and timers measured on it.
import { Context, type Effect } from "effect"

/**
 * The clock service. `now` reads this node's local clock in milliseconds; two nodes' clocks may
 * disagree (offset, drift, steps). `sleep` waits a duration measured by this node's clock rate,
 * and is not affected by steps of the clock, like a monotonic timer.
 */
export class Clock extends Context.Service<Clock, {
  /** Milliseconds on this node's local clock. */
  readonly now: Effect.Effect<number>
  /** Suspends the calling fiber for `durationMs` of local time. Interruption cancels the timer. */
  readonly sleep: (durationMs: number) => Effect.Effect<void>
}>()("faultline/Clock") {}
