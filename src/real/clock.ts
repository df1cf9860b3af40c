// The Clock service of a real node: the monotonic clock, and timers from setTimeout.
import { Effect } from "effect"
import { Clock } from "../env/index.ts"

/** The longest delay setTimeout takes (about 24.8 days); longer sleeps wait in several steps. */
const TIMEOUT_MS_MAX = 2 ** 31 - 1

/** A real node's clock, and the microsecond reading its trace lines are stamped with. */
export interface RealClock {
  readonly service: Clock["Service"]
  /** Microseconds on the same clock as `service.now`, for trace lines. */
  readonly nowUs: () => number
}

/**
 * Makes a node's clock. `now` reads the monotonic clock (`performance.now()`), so it never steps
 * back when NTP or an operator changes the wall clock, as the simulator's timers do not.
 *
 * Where it counts from: by default the instant the node starts, so a real node sees what a
 * simulated one does (its clock near 0 when it starts, and workload times such as "at 2 s" mean
 * the same). Give `originUnixMs` (a wall-clock instant, such as when a cluster was launched) to
 * have every node on a host count from one origin, so their traces merge into one timeline.
 */
export const makeRealClock = (options: { readonly originUnixMs?: number | undefined } = {}): RealClock => {
  const startedAt = performance.now()
  // The origin's distance from this node's start, read once: the wall clock is not read again.
  const offsetMs = options.originUnixMs === undefined ? 0 : performance.timeOrigin + startedAt - options.originUnixMs
  const nowMs = () => performance.now() - startedAt + offsetMs
  const sleep = (durationMs: number): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      // setTimeout counts whole milliseconds on a clock of its own and may fire a fraction of one
      // early by this node's clock, and it takes at most TIMEOUT_MS_MAX: so each firing reads the
      // node's clock and waits again for whatever is left. A sleep never ends early by `now`.
      const deadlineMs = nowMs() + Math.max(0, durationMs)
      const wait = () => {
        const remainingMs = deadlineMs - nowMs()
        if (remainingMs <= 0) return resume(Effect.void)
        timer = setTimeout(wait, Math.min(Math.ceil(remainingMs), TIMEOUT_MS_MAX))
      }
      wait()
      return Effect.sync(() => clearTimeout(timer))
    })
  return {
    service: Clock.of({ now: Effect.sync(nowMs), sleep }),
    nowUs: () => Math.round(nowMs() * 1000)
  }
}
