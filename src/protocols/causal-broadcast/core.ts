// The decision logic of reliable causal broadcast: pure, synchronous functions over plain data.
import * as LamportClock from "../clocks/lamport-clock.ts"
import * as VectorClock from "../clocks/vector-clock.ts"
import type { Data } from "./messages.ts"
import { type PendingEntry, PendingBuffer } from "./pending-buffer.ts"

/** One node's broadcast state. Mutable, owned by one node; never shared. */
export interface BroadcastState {
  readonly self: string
  /**
   * Per origin, how many of its messages this node has delivered (delivery is per-origin FIFO).
   * Updated in place, so a delivery costs O(1) however many nodes there are: copy it
   * (`VectorClock.normalize`) before it leaves the node or is kept.
   */
  readonly delivered: Record<string, number>
  lamport: number
  /** Messages received but not yet deliverable, at most `pending.capacity` of them. */
  readonly pending: PendingBuffer
  /** Every delivered message, per origin, in sequence order; kept for relaying to peers. */
  readonly store: Map<string, Array<Data>>
  /** Per origin, where each message of `store` came in this node's delivery order (0, 1, 2, ...). */
  readonly deliveryPositions: Map<string, Array<number>>
  /** How many messages this node has delivered (recovered ones included). */
  deliveredCount: number
}

/** How many undeliverable messages a node buffers when not told otherwise. */
export const DEFAULT_MAX_PENDING = 1024

/** A fresh state, buffering at most `maxPending` undeliverable messages. */
export const initialState = (self: string, maxPending = DEFAULT_MAX_PENDING): BroadcastState => ({
  self,
  delivered: {},
  lamport: 0,
  pending: new PendingBuffer(maxPending),
  store: new Map(),
  deliveryPositions: new Map(),
  deliveredCount: 0
})

/** Whether `message` can be delivered now: it is the next from its origin and its dependencies are met. */
export const deliverable = (state: BroadcastState, message: Data): boolean => {
  if (message.sequence !== VectorClock.entry(state.delivered, message.origin) + 1) return false
  const dependencies = message.dependencies
  for (const node in dependencies) {
    if (node === message.origin) continue
    if (dependencies[node]! > VectorClock.entry(state.delivered, node)) return false
  }
  return true
}

/** Records `message` as delivered. */
export const markDelivered = (state: BroadcastState, message: Data): void => {
  state.delivered[message.origin] = message.sequence
  state.lamport = LamportClock.receive(state.lamport, message.lamport)
  let list = state.store.get(message.origin)
  let positions = state.deliveryPositions.get(message.origin)
  if (list === undefined || positions === undefined) {
    list = []
    positions = []
    state.store.set(message.origin, list)
    state.deliveryPositions.set(message.origin, positions)
  }
  list.push(message)
  positions.push(state.deliveredCount)
  state.deliveredCount++
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
 * they must be delivered. Duplicates and already-delivered messages are ignored. A message that
 * cannot be delivered yet is buffered; when the buffer is full, the message with the most missing
 * causal predecessors (the new one or a buffered one) is dropped, for anti-entropy to bring again.
 */
export const receive = (
  state: BroadcastState,
  message: Data,
  rule: DeliverableRule = deliverable
): Array<Data> => {
  if (message.sequence <= VectorClock.entry(state.delivered, message.origin)) return []
  if (state.pending.get(message.origin, message.sequence) !== undefined) return []
  const inspection = inspect(state, message)
  if (!passes(state, message, inspection, rule)) {
    hold(state, message, inspection)
    return []
  }
  const delivered: Array<Data> = []
  const woken: Array<PendingEntry> = []
  deliverAndWake(state, message, delivered, woken)
  // Each woken entry is looked at once per wake-up: delivered, or parked on what it now waits for.
  for (let index = 0; index < woken.length; index++) {
    const entry = woken[index]!
    if (!state.pending.holds(entry)) continue
    const candidate = entry.message
    if (candidate.sequence <= VectorClock.entry(state.delivered, candidate.origin)) {
      state.pending.remove(entry)
      continue
    }
    const again = inspect(state, candidate)
    if (!passes(state, candidate, again, rule)) {
      park(state, entry, again)
      continue
    }
    state.pending.remove(entry)
    deliverAndWake(state, candidate, delivered, woken)
  }
  return delivered
}

/** What a node lacks of a message's causal past, found in one pass over its dependencies. */
interface Inspection {
  /** How many causal predecessors are not delivered (zero: deliverable by the vector-clock rule). */
  readonly missing: number
  /** The first delivery it lacks: its origin's previous message, else a dependency; undefined when none. */
  readonly blockedOn: string | undefined
  readonly blockedSequence: number
}

/** For a message not yet delivered: what of its causal past this node lacks. */
const inspect = (state: BroadcastState, message: Data): Inspection => {
  const previous = VectorClock.entry(state.delivered, message.origin)
  let missing = message.sequence - 1 - previous
  let blockedOn: string | undefined = missing > 0 ? message.origin : undefined
  let blockedSequence = message.sequence - 1
  const dependencies = message.dependencies
  for (const node in dependencies) {
    if (node === message.origin) continue
    const lacking = dependencies[node]! - VectorClock.entry(state.delivered, node)
    if (lacking <= 0) continue
    missing += lacking
    if (blockedOn === undefined) {
      blockedOn = node
      blockedSequence = dependencies[node]!
    }
  }
  return { missing, blockedOn, blockedSequence }
}

/** Whether the rule lets `message` be delivered now; the vector-clock rule is answered by the inspection. */
const passes = (state: BroadcastState, message: Data, inspection: Inspection, rule: DeliverableRule): boolean =>
  rule === deliverable ? inspection.missing === 0 : rule(state, message)

/** Delivers `message` and collects the buffered entries that waited for it. */
const deliverAndWake = (
  state: BroadcastState,
  message: Data,
  delivered: Array<Data>,
  woken: Array<PendingEntry>
): void => {
  const before = VectorClock.entry(state.delivered, message.origin)
  markDelivered(state, message)
  delivered.push(message)
  // Only a rule that skips ahead in an origin's sequence delivers more than one sequence at once.
  for (let sequence = before + 1; sequence <= message.sequence; sequence++) {
    state.pending.wake(message.origin, sequence, woken)
  }
}

/** Buffers an undeliverable message, making room by dropping whichever message is furthest from deliverable. */
const hold = (state: BroadcastState, message: Data, inspection: Inspection): void => {
  if (state.pending.full) {
    const furthest = state.pending.furthest()!
    if (furthest.missing <= inspection.missing) return
    state.pending.remove(furthest)
  }
  const entry: PendingEntry = { message, missing: inspection.missing, waitingFor: undefined }
  state.pending.add(entry)
  park(state, entry, inspection)
}

/** Parks a buffered entry on the first delivery it lacks, or, lacking none, until any delivery. */
const park = (state: BroadcastState, entry: PendingEntry, inspection: Inspection): void => {
  if (inspection.blockedOn === undefined) state.pending.stall(entry)
  else state.pending.wait(entry, inspection.blockedOn, inspection.blockedSequence)
}

/**
 * Messages this node has delivered that a peer reporting `peerDelivered` lacks, at most `limit`,
 * in an order the peer can deliver them one by one: this node's own delivery order. That order is
 * causal (this node delivered each message after everything it depends on), and the peer's
 * delivered set is causally closed, so each message's predecessors are either delivered at the
 * peer already or earlier in the list. Cost: O(origins + limit · log origins).
 */
export const missingFor = (state: BroadcastState, peerDelivered: VectorClock.VectorClock, limit: number): Array<Data> => {
  // A min-heap of cursors, one per origin the peer lags on, ordered by delivery position.
  const heap: Array<Cursor> = []
  for (const [origin, list] of state.store) {
    // The peer's clock came off the wire: a count that is not a whole number counts as zero.
    const reported = VectorClock.entry(peerDelivered, origin)
    const index = Number.isInteger(reported) && reported > 0 ? reported : 0
    if (index < list.length) {
      heapPush(heap, { position: state.deliveryPositions.get(origin)![index]!, origin, index, list })
    }
  }
  const result: Array<Data> = []
  while (result.length < limit && heap.length > 0) {
    const cursor = heap[0]!
    result.push(cursor.list[cursor.index]!)
    cursor.index++
    if (cursor.index < cursor.list.length) {
      cursor.position = state.deliveryPositions.get(cursor.origin)![cursor.index]!
      siftDown(heap, 0)
    } else {
      const last = heap.pop()!
      if (heap.length > 0) {
        heap[0] = last
        siftDown(heap, 0)
      }
    }
  }
  return result
}

interface Cursor {
  position: number
  readonly origin: string
  index: number
  readonly list: ReadonlyArray<Data>
}

const heapPush = (heap: Array<Cursor>, cursor: Cursor): void => {
  heap.push(cursor)
  let index = heap.length - 1
  while (index > 0) {
    const parent = (index - 1) >> 1
    if (heap[parent]!.position <= cursor.position) break
    heap[index] = heap[parent]!
    index = parent
  }
  heap[index] = cursor
}

const siftDown = (heap: Array<Cursor>, start: number): void => {
  const cursor = heap[start]!
  let index = start
  while (true) {
    const left = 2 * index + 1
    if (left >= heap.length) break
    const right = left + 1
    const child = right < heap.length && heap[right]!.position < heap[left]!.position ? right : left
    if (heap[child]!.position >= cursor.position) break
    heap[index] = heap[child]!
    index = child
  }
  heap[index] = cursor
}

/** Whether a peer reporting `peerDelivered` has something this node lacks. */
export const peerIsAhead = (state: BroadcastState, peerDelivered: VectorClock.VectorClock): boolean =>
  !VectorClock.lessOrEqual(peerDelivered, state.delivered)
