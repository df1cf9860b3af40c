// The receive buffer of causal broadcast: messages that arrived before they could be delivered, bounded,
// and indexed by the delivery each one waits for, so that a delivery looks only at the messages it may unblock.
import type { Data } from "./messages.ts"

/** One buffered message. */
export interface PendingEntry {
  readonly message: Data
  /**
   * How many of its causal predecessors were not yet delivered when it arrived. It only shrinks
   * afterwards, so it is an upper bound; the buffer evicts the entry with the largest first.
   */
  readonly missing: number
  /** The delivery it waits for (`origin`, `sequence`), once it waits for one. */
  waitingFor: { readonly node: string; readonly sequence: number } | undefined
}

/** Programmer-error check: a failed one is a bug in this file's caller. */
const assert = (condition: boolean, message: string): void => {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}

/**
 * At most `capacity` undeliverable messages, by origin and sequence. An entry waits either for one
 * delivery (`wait`; `wake` hands it back when that delivery happens) or, when nothing it depends on
 * is missing and the deliverability rule still refuses it, in the stalled list, which every delivery
 * hands back (only a rule stricter than the vector-clock one puts anything there).
 */
export class PendingBuffer {
  private readonly byOrigin = new Map<string, Map<number, PendingEntry>>()
  private readonly waiting = new Map<string, Map<number, Array<PendingEntry>>>()
  private stalled: Array<PendingEntry> = []
  private count = 0
  /** The entry with the largest `missing`, when known; undefined means "scan for it". */
  private furthestEntry: PendingEntry | undefined = undefined

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, `capacity ${capacity} must be a positive integer`)
  }

  /** How many messages are buffered. */
  get size(): number {
    return this.count
  }

  /** Whether the buffer holds no more room. */
  get full(): boolean {
    return this.count >= this.capacity
  }

  get(origin: string, sequence: number): PendingEntry | undefined {
    return this.byOrigin.get(origin)?.get(sequence)
  }

  /** Whether `entry` itself (not another copy of its message) is still buffered. */
  holds(entry: PendingEntry): boolean {
    return this.get(entry.message.origin, entry.message.sequence) === entry
  }

  /** Buffers an entry; the caller makes room first (see `furthest`). */
  add(entry: PendingEntry): void {
    assert(this.count < this.capacity, `buffer full (${this.count} of ${this.capacity})`)
    const { origin, sequence } = entry.message
    let bySequence = this.byOrigin.get(origin)
    if (bySequence === undefined) {
      bySequence = new Map()
      this.byOrigin.set(origin, bySequence)
    }
    assert(!bySequence.has(sequence), `${origin}#${sequence} buffered twice`)
    bySequence.set(sequence, entry)
    this.count++
    if (this.furthestEntry !== undefined && entry.missing > this.furthestEntry.missing) this.furthestEntry = entry
    if (this.count === 1) this.furthestEntry = entry
    assert(this.count <= this.capacity, `buffer over capacity (${this.count} of ${this.capacity})`)
  }

  /** Removes an entry (delivered, stale or evicted), and its place in the waiting index. */
  remove(entry: PendingEntry): void {
    const { origin, sequence } = entry.message
    const bySequence = this.byOrigin.get(origin)
    assert(bySequence?.get(sequence) === entry, `${origin}#${sequence} is not buffered`)
    bySequence!.delete(sequence)
    if (bySequence!.size === 0) this.byOrigin.delete(origin)
    this.count--
    this.unwait(entry)
    if (this.furthestEntry === entry) this.furthestEntry = undefined
  }

  /** Parks `entry` until `node`'s message `sequence` is delivered. */
  wait(entry: PendingEntry, node: string, sequence: number): void {
    const current = entry.waitingFor
    if (current !== undefined && current.node === node && current.sequence === sequence) return
    this.unwait(entry)
    let bySequence = this.waiting.get(node)
    if (bySequence === undefined) {
      bySequence = new Map()
      this.waiting.set(node, bySequence)
    }
    let list = bySequence.get(sequence)
    if (list === undefined) {
      list = []
      bySequence.set(sequence, list)
    }
    list.push(entry)
    entry.waitingFor = { node, sequence }
  }

  /** Parks `entry` until any delivery. */
  stall(entry: PendingEntry): void {
    this.unwait(entry)
    this.stalled.push(entry)
  }

  /** Hands back, and forgets, every entry waiting for `node`'s message `sequence`, then every stalled one. */
  wake(node: string, sequence: number, into: Array<PendingEntry>): void {
    const bySequence = this.waiting.get(node)
    const list = bySequence?.get(sequence)
    if (list !== undefined) {
      bySequence!.delete(sequence)
      if (bySequence!.size === 0) this.waiting.delete(node)
      for (const entry of list) {
        entry.waitingFor = undefined
        into.push(entry)
      }
    }
    if (this.stalled.length > 0) {
      for (const entry of this.stalled) into.push(entry)
      this.stalled = []
    }
  }

  /** An entry with the most missing predecessors, or undefined when empty. Deterministic: ties go by buffer order. */
  furthest(): PendingEntry | undefined {
    if (this.furthestEntry !== undefined || this.count === 0) return this.furthestEntry
    let furthest: PendingEntry | undefined
    for (const bySequence of this.byOrigin.values()) {
      for (const entry of bySequence.values()) {
        if (furthest === undefined || entry.missing > furthest.missing) furthest = entry
      }
    }
    this.furthestEntry = furthest
    return furthest
  }

  private unwait(entry: PendingEntry): void {
    const waitingFor = entry.waitingFor
    if (waitingFor !== undefined) {
      entry.waitingFor = undefined
      const bySequence = this.waiting.get(waitingFor.node)
      const list = bySequence?.get(waitingFor.sequence)
      assert(list !== undefined, `${entry.message.origin}#${entry.message.sequence} is not in its waiting list`)
      const index = list!.indexOf(entry)
      assert(index >= 0, `${entry.message.origin}#${entry.message.sequence} is not in its waiting list`)
      list!.splice(index, 1)
      if (list!.length === 0) {
        bySequence!.delete(waitingFor.sequence)
        if (bySequence!.size === 0) this.waiting.delete(waitingFor.node)
      }
      return
    }
    const index = this.stalled.indexOf(entry)
    if (index >= 0) this.stalled.splice(index, 1)
  }
}
