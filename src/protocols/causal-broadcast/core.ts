// The decision logic of reliable causal broadcast: pure, synchronous functions over plain data.
import * as LamportClock from "../clocks/lamport-clock.ts"
import * as VectorClock from "../clocks/vector-clock.ts"
import type { Data } from "./messages.ts"

/** One node's broadcast state. Mutable, owned by one node; never shared. */
export interface BroadcastState {
  readonly self: string
  /** Per origin, how many of its messages this node has delivered (delivery is per-origin FIFO). */
  delivered: Record<string, number>
  lamport: number
  /** Messages received but not yet deliverable, by `origin#sequence`. Bounded by the caller. */
  readonly pending: Map<string, Data>
  /** Every delivered message, per origin, in sequence order; kept for relaying to peers. */
  readonly store: Map<string, Array<Data>>
}

/** A fresh state. */
export const initialState = (self: string): BroadcastState => ({
  self,
  delivered: {},
  lamport: 0,
  pending: new Map(),
  store: new Map()
})

const key = (message: Data): string => `${message.origin}#${message.sequence}`

/** Whether `message` can be delivered now: it is the next from its origin and its dependencies are met. */
export const deliverable = (state: BroadcastState, message: Data): boolean => {
  if (message.sequence !== VectorClock.entry(state.delivered, message.origin) + 1) return false
  for (const node of Object.keys(message.dependencies)) {
    if (node === message.origin) continue
    if (VectorClock.entry(message.dependencies, node) > VectorClock.entry(state.delivered, node)) return false
  }
  return true
}

/** Records `message` as delivered. */
export const markDelivered = (state: BroadcastState, message: Data): void => {
  state.delivered = { ...state.delivered, [message.origin]: message.sequence }
  state.lamport = LamportClock.receive(state.lamport, message.lamport)
  let list = state.store.get(message.origin)
  if (list === undefined) {
    list = []
    state.store.set(message.origin, list)
  }
  list.push(message)
}

/** Makes this node's next broadcast. The caller persists it, then delivers it locally, then sends it. */
export const makeBroadcast = (state: BroadcastState, payload: string): Data => ({
  _tag: "Data",
  origin: state.self,
  sequence: VectorClock.entry(state.delivered, state.self) + 1,
  dependencies: VectorClock.normalize({
    ...state.delivered,
    [state.self]: VectorClock.entry(state.delivered, state.self)
  }),
  lamport: LamportClock.tick(state.lamport),
  payload
})

/** The deliverability rule, replaceable so tests can plant a bug in it. */
export type DeliverableRule = (state: BroadcastState, message: Data) => boolean

/**
 * Takes in a received message and returns every message that became deliverable, in the order
 * they must be delivered. Duplicates and already-delivered messages are ignored.
 */
export const receive = (
  state: BroadcastState,
  message: Data,
  rule: DeliverableRule = deliverable
): Array<Data> => {
  if (message.sequence <= VectorClock.entry(state.delivered, message.origin)) return []
  if (state.pending.has(key(message))) return []
  state.pending.set(key(message), message)
  const delivered: Array<Data> = []
  let progress = true
  while (progress) {
    progress = false
    // Sorted keys keep the delivery order independent of arrival order among deliverable messages.
    for (const pendingKey of [...state.pending.keys()].sort()) {
      const candidate = state.pending.get(pendingKey)!
      if (candidate.sequence <= VectorClock.entry(state.delivered, candidate.origin)) {
        state.pending.delete(pendingKey)
        continue
      }
      if (!rule(state, candidate)) continue
      state.pending.delete(pendingKey)
      markDelivered(state, candidate)
      delivered.push(candidate)
      progress = true
    }
  }
  return delivered
}

/** Messages this node has delivered that a peer reporting `peerDelivered` lacks, at most `limit`, in causal order. */
export const missingFor = (state: BroadcastState, peerDelivered: VectorClock.VectorClock, limit: number): Array<Data> => {
  const result: Array<Data> = []
  for (const origin of [...state.store.keys()].sort()) {
    const list = state.store.get(origin)!
    for (let index = VectorClock.entry(peerDelivered, origin); index < list.length; index++) {
      if (result.length >= limit) return result
      result.push(list[index]!)
    }
  }
  return result
}

/** Whether a peer reporting `peerDelivered` has something this node lacks. */
export const peerIsAhead = (state: BroadcastState, peerDelivered: VectorClock.VectorClock): boolean =>
  !VectorClock.lessOrEqual(peerDelivered, state.delivered)
