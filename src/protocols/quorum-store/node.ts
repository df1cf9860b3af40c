// The quorum store's Effect shell: recovers from Storage (refusing damaged files), then feeds received messages and ticks to
// the core and carries out what it returns, persisting (with sync) before tracing and sending.
import { Effect } from "effect"
import { Clock, encodeText, Network, type NodeProgram, Storage, Tracing } from "../../env/index.ts"
import { recover, receive, tick } from "./core.ts"
import { type Effects, initialState, type QuorumConfig } from "./state.ts"
import { readDisk } from "./stored-files.ts"

/** How often the shell ticks the core (timeouts, handoff and anti-entropy rounds) at most. */
export const TICK_MS = 10

const carryOut = (effects: Effects) =>
  Effect.gen(function*() {
    if (effects.persist.size > 0) {
      const storage = yield* Storage
      for (const [file, content] of effects.persist) {
        if (content === undefined) yield* storage.remove(file)
        else yield* storage.write(file, encodeText(JSON.stringify(content)))
        yield* storage.sync(file)
      }
    }
    if (effects.events.length > 0) {
      const tracing = yield* Tracing
      for (const [name, attributes] of effects.events) yield* tracing.event(name, attributes)
    }
    if (effects.messages.length > 0) yield* (yield* Network).sendAll(effects.messages)
  })

/** A node of the quorum store: `config(self)` gives its configuration. */
export const quorumNode = (config: (self: string) => QuorumConfig): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const tracing = yield* Tracing
    const state = initialState(config(network.self))
    const recovered = yield* readDisk
    yield* tracing.event("recover", { keys: recovered.store.size, hints: recovered.hints.size })
    yield* carryOut(recover(state, recovered))
    let lastTickMs = Number.NEGATIVE_INFINITY
    while (true) {
      const envelope = yield* network.receiveWithin(TICK_MS)
      const nowMs = yield* clock.now
      if (envelope !== undefined) yield* carryOut(receive(state, envelope.from, envelope.message, nowMs))
      if (nowMs - lastTickMs >= TICK_MS) {
        lastTickMs = nowMs
        yield* carryOut(tick(state, nowMs))
      }
    }
  })
