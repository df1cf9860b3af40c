// Chapter 1 exercise: when may a causal broadcast deliver a message? Edit `deliverable`, then run
// `npx tsx docs/learn/check.ts 1`. As given, it keeps each sender's order (FIFO) and nothing more.
import type { DeliverableRule } from "../../../src/protocols/causal-broadcast/index.ts"
import { causalBroadcastProtocol } from "../../../src/protocols/causal-broadcast/definition.ts"
import * as VectorClock from "../../../src/protocols/clocks/vector-clock.ts"

/**
 * Whether `message` can be delivered now. `state.delivered` counts, per origin, the messages this
 * node has delivered; `message.sequence` numbers the message among its origin's; and
 * `message.dependencies` counts, per origin, what the origin had delivered when it sent it.
 */
export const deliverable: DeliverableRule = (state, message) =>
  message.sequence === VectorClock.entry(state.delivered, message.origin) + 1

/** Your rule as a protocol, for the command line: `--protocol causal-broadcast-exercise --protocols docs/learn/exercises/01-deliverable.ts`. */
export const protocols = [causalBroadcastProtocol("causal-broadcast-exercise", deliverable)]
