// The Effect shell of reliable causal broadcast: recovery from the log, the workload, anti-entropy and the receive loop.
import { Effect, Semaphore } from "effect"
import { Clock, decodeText, encodeText, Network, type NodeProgram, Random, Storage, Tracing } from "../../env/index.ts"
import * as VectorClock from "../clocks/vector-clock.ts"
import {
  type BroadcastState,
  DEFAULT_MAX_PENDING,
  type DeliverableRule,
  deliverable,
  initialState,
  makeBroadcast,
  markDelivered,
  missingFor,
  peerIsAhead,
  receive
} from "./core.ts"
import { asMessage, type Data } from "./messages.ts"

/** Options of the causal-broadcast protocol, as a scenario states them. */
export interface CausalBroadcastOptions {
  /** How many messages each node broadcasts in the run. */
  readonly messagesPerNode: number
  /** Mean pause between two broadcasts of one node. */
  readonly broadcastIntervalMs: number
  /** How often a node asks a random peer for what it misses. */
  readonly syncIntervalMs: number
  /** At most this many messages in one anti-entropy reply. */
  readonly maxBatch: number
  /**
   * At most this many undeliverable messages buffered; when full, the one furthest from deliverable
   * is dropped, and anti-entropy fetches it again later.
   */
  readonly maxPending: number
}

export const defaultCausalBroadcastOptions: CausalBroadcastOptions = {
  messagesPerNode: 10,
  broadcastIntervalMs: 200,
  syncIntervalMs: 100,
  maxBatch: 64,
  maxPending: DEFAULT_MAX_PENDING
}

/** The durable log: one JSON line per delivered message, in delivery order. */
const LOG_FILE = "broadcast.log"

/** Reads the log back; a last line without its newline is a torn write and is cut off. */
const recover = (state: BroadcastState) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    const bytes = yield* storage.read(LOG_FILE)
    if (bytes === undefined) return
    const text = decodeText(bytes)
    const complete = text.lastIndexOf("\n") + 1
    for (const line of text.slice(0, complete).split("\n")) {
      if (line.length === 0) continue
      markDelivered(state, JSON.parse(line) as Data)
    }
    if (complete < text.length) {
      const tracing = yield* Tracing
      yield* tracing.event("tornTail", { bytes: text.length - complete })
      yield* storage.truncate(LOG_FILE, encodeText(text.slice(0, complete)).length)
      yield* storage.sync(LOG_FILE)
    }
  })

const persist = (messages: ReadonlyArray<Data>) =>
  Effect.gen(function*() {
    const storage = yield* Storage
    yield* storage.append(LOG_FILE, encodeText(messages.map((message) => JSON.stringify(message) + "\n").join("")))
    yield* storage.sync(LOG_FILE)
  })

const describe = (message: Data) => ({
  origin: message.origin,
  sequence: message.sequence,
  dependencies: message.dependencies,
  lamport: message.lamport
})

/** Seams for tests: a variant may reshape each message it broadcasts (planting a bug). The shipped node passes none. */
export interface CausalBroadcastHooks {
  readonly shapeBroadcast?: (message: Data) => Data
  /**
   * The node's Lamport time after it took in a message from a peer: `before` is the time it had,
   * `after` the time the core set (the larger of the two, Lamport's receive rule). A variant may
   * return another time, planting a clock that is not advanced on receipt.
   */
  readonly lamportOnReceive?: (options: { readonly before: number; readonly after: number }) => number
}

/**
 * A node of reliable causal broadcast. Each node broadcasts `messagesPerNode` messages; every node
 * delivers every message exactly once per incarnation, after everything it causally depends on.
 * Delivered messages are logged and synced before they count, so a restart resumes from the log,
 * and periodic anti-entropy fetches whatever loss, partitions or crashes kept away.
 */
export const causalBroadcastNode = (
  options: CausalBroadcastOptions,
  rule: DeliverableRule = deliverable,
  hooks: CausalBroadcastHooks = {}
): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const random = yield* Random
    const tracing = yield* Tracing
    const state = initialState(network.self, options.maxPending)
    yield* recover(state)
    yield* tracing.event("recover", { delivered: VectorClock.normalize(state.delivered), lamport: state.lamport })
    const peers = network.nodes.filter((node) => node !== network.self)

    // What the node has delivered changes, and is reported, only while holding this lock; the
    // broadcaster holds it while it makes a message and reports the broadcast. So the trace shows
    // each message's causal past as it was: the deliveries reported before its broadcast, which is
    // what the checker takes it to depend on, whatever the message itself declares.
    const observed = Semaphore.withPermit(yield* Semaphore.make(1))

    // Delivery is reported as soon as the state says so, before the log is synced: the sync may
    // take time, during which the broadcaster can make a message that depends on these. A crash
    // before the sync only makes the node deliver them again after its restart.
    const receiveData = (data: Data) =>
      Effect.gen(function*() {
        const messages = yield* observed(Effect.gen(function*() {
          const lamportBefore = state.lamport
          const delivered = receive(state, data, rule)
          if (hooks.lamportOnReceive !== undefined) {
            state.lamport = hooks.lamportOnReceive({ before: lamportBefore, after: state.lamport })
          }
          for (const message of delivered) yield* tracing.event("deliver", describe(message))
          return delivered
        }))
        if (messages.length > 0) yield* persist(messages)
      })

    const broadcaster = Effect.gen(function*() {
      while (VectorClock.entry(state.delivered, network.self) < options.messagesPerNode) {
        const jitter = 0.5 + (yield* random.next)
        yield* clock.sleep(options.broadcastIntervalMs * jitter)
        // Reported before it is stored: a crash before the sync may lose it, and the restarted
        // node then makes another message with the same number (it was never sent).
        const message = yield* observed(Effect.gen(function*() {
          const made = makeBroadcast(state, `${network.self}-${VectorClock.entry(state.delivered, network.self) + 1}`)
          const shaped = hooks.shapeBroadcast === undefined ? made : hooks.shapeBroadcast(made)
          yield* tracing.event("broadcast", describe(shaped))
          return shaped
        }))
        yield* persist([message])
        yield* observed(Effect.andThen(
          Effect.sync(() => markDelivered(state, message)),
          tracing.event("deliver", describe(message))
        ))
        yield* network.sendAll(peers.map((peer) => [peer, message] as const))
      }
    })

    const antiEntropy = Effect.gen(function*() {
      while (peers.length > 0) {
        yield* clock.sleep(options.syncIntervalMs)
        const peer = peers[yield* random.nextInt(peers.length)]!
        yield* network.send(peer, { _tag: "Sync", delivered: VectorClock.normalize(state.delivered), reply: false })
      }
    })

    yield* Effect.forkChild(broadcaster)
    yield* Effect.forkChild(antiEntropy)
    while (true) {
      const envelope = yield* network.receive
      const message = asMessage(envelope.message)
      if (message === undefined) continue
      switch (message._tag) {
        case "Data": {
          yield* receiveData(message)
          break
        }
        case "Sync": {
          const missing = missingFor(state, message.delivered, options.maxBatch)
          if (missing.length > 0) yield* network.sendAll(missing.map((data) => [envelope.from, data] as const))
          if (!message.reply && peerIsAhead(state, message.delivered)) {
            yield* network.send(envelope.from, {
              _tag: "Sync",
              delivered: VectorClock.normalize(state.delivered),
              reply: true
            })
          }
          break
        }
        default: {
          const unreachable: never = message
          throw new Error(`unknown message ${JSON.stringify(unreachable)}`)
        }
      }
    }
  })
