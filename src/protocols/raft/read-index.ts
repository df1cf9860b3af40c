// The leader's bookkeeping for linearizable reads (thesis §6.4, etcd's readOnly): each request
// remembers the commitIndex at arrival and waits for a majority to confirm the leadership.
import { assert } from "./assert.ts"
import type { NodeId, ReadState } from "./types.ts"

interface PendingRead {
  readonly index: number
  readonly acks: Set<NodeId>
}

/**
 * Read requests at a leader, in arrival order. A request first waits, if need be, for the leader
 * to commit an entry of its own term (before that the leader's commitIndex may be stale); it then
 * records commitIndex and waits for heartbeat acknowledgements from a majority.
 */
export class ReadIndexQueue {
  private readonly waitingForCommit: string[] = []
  private readonly pending = new Map<string, PendingRead>()
  private readonly order: string[] = []

  constructor(readonly capacity: number) {
    assert(capacity >= 1, () => `read capacity ${capacity} must be at least 1`)
  }

  /** Whether no more requests may be queued. */
  isFull(): boolean {
    return this.waitingForCommit.length + this.order.length >= this.capacity
  }

  /** Whether `requestId` is already queued. */
  has(requestId: string): boolean {
    return this.pending.has(requestId) || this.waitingForCommit.includes(requestId)
  }

  /** Queues a request until the leader has committed an entry of its term. */
  waitForCommit(requestId: string): void {
    assert(!this.isFull(), "read queue overflow")
    this.waitingForCommit.push(requestId)
  }

  /** Removes and returns the requests that waited for the first commit of the term. */
  takeWaitingForCommit(): string[] {
    return this.waitingForCommit.splice(0, this.waitingForCommit.length)
  }

  /** Queues a request for confirmation at `index`; the leader's own ack counts at once. */
  add(options: { requestId: string; index: number; self: NodeId }): void {
    assert(this.waitingForCommit.length + this.order.length <= this.capacity, "read queue overflow")
    assert(!this.pending.has(options.requestId), () => `read ${options.requestId} is already pending`)
    this.pending.set(options.requestId, { index: options.index, acks: new Set([options.self]) })
    this.order.push(options.requestId)
  }

  /** Records `from`'s confirmation of `requestId` and returns who has confirmed it so far. */
  recordAck(options: { requestId: string; from: NodeId }): ReadonlySet<NodeId> | undefined {
    const read = this.pending.get(options.requestId)
    read?.acks.add(options.from)
    return read?.acks
  }

  /**
   * Releases `requestId` and every request queued before it: a heartbeat round that confirms
   * leadership after a request arrived also confirms it for all earlier ones.
   */
  release(requestId: string): ReadState[] {
    const position = this.order.indexOf(requestId)
    if (position === -1) return []
    const released = this.order.splice(0, position + 1)
    return released.map((id) => {
      const read = this.pending.get(id)
      assert(read !== undefined, () => `read ${id} is in the order but not pending`)
      this.pending.delete(id)
      return { requestId: id, index: read.index }
    })
  }

  /** The newest request awaiting confirmation; heartbeats carry it so lost rounds are retried. */
  lastPending(): string | null {
    // at(-1): [length - 1] of an empty array is a slow megamorphic read of key -1 (see advanceReady).
    return this.order.at(-1) ?? null
  }

  /** Drops every request, as when the leader steps down. */
  clear(): void {
    this.waitingForCommit.length = 0
    this.pending.clear()
    this.order.length = 0
  }
}
