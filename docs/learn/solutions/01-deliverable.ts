// Chapter 1, a reference solution: the next message from its origin, once everything it depends on is delivered.
import type { DeliverableRule } from "../../../src/protocols/causal-broadcast/index.ts"
import { causalBroadcastProtocol } from "../../../src/protocols/causal-broadcast/definition.ts"
import * as VectorClock from "../../../src/protocols/clocks/vector-clock.ts"

/** FIFO from the origin, and every dependency on another origin already delivered here. */
export const deliverable: DeliverableRule = (state, message) => {
  if (message.sequence !== VectorClock.entry(state.delivered, message.origin) + 1) return false
  return Object.entries(message.dependencies).every(
    ([origin, count]) => origin === message.origin || count <= VectorClock.entry(state.delivered, origin)
  )
}

export const protocols = [causalBroadcastProtocol("causal-broadcast-exercise", deliverable)]
