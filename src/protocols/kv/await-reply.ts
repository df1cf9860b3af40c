// Waiting for the one reply a request expects, with a deadline on the node's clock. Every key-value
// client (Raft's, the quorum store's, the command line's) waits this way.
import { Effect } from "effect"
import type { Clock, Network } from "../../env/index.ts"

/**
 * Waits at most `timeoutMs` of the node's clock for the reply `accept` recognises (it returns the
 * reply's outcome, or undefined for any other message, such as a late reply to an earlier attempt,
 * which is skipped). Undefined when none came in time.
 */
export const awaitReply = <A>(options: {
  readonly network: Network["Service"]
  readonly clock: Clock["Service"]
  readonly timeoutMs: number
  readonly accept: (message: unknown) => A | undefined
  /**
   * The node's clock now, when the caller has just read it: the wait starts from it rather than
   * from a read of its own, which spares two Effect steps a request.
   */
  readonly startedMs?: number | undefined
}): Effect.Effect<A | undefined> => {
  const wait = (startedMs: number): Effect.Effect<A | undefined> => {
    const deadlineMs = startedMs + options.timeoutMs
    // A loop of plain Effects rather than a generator: clients run it for every request.
    const waitFrom = (nowMs: number): Effect.Effect<A | undefined> => {
      if (nowMs >= deadlineMs) return Effect.undefined
      return Effect.flatMap(options.network.receiveWithin(deadlineMs - nowMs), (received) => {
        if (received === undefined) return Effect.undefined
        const accepted = options.accept(received.message)
        return accepted === undefined ? next : Effect.succeed(accepted)
      })
    }
    const next = Effect.flatMap(options.clock.now, waitFrom)
    // The first wait starts from `startedMs` without reading the clock again: no time passes
    // between the two reads (in the simulator none at all), and it spares two Effect steps a request.
    return waitFrom(startedMs)
  }
  return options.startedMs === undefined ? Effect.flatMap(options.clock.now, wait) : wait(options.startedMs)
}
