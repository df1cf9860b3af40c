// The send side of one destination: a bounded queue of encoded frames, written to a connection as fast as its socket drains.
import type { Connection } from "./connection.ts"

/** Bounds of a link's queue; a frame that would exceed either is dropped. */
export interface LinkCapacity {
  readonly messages: number
  readonly bytes: number
}

/** How many bytes of queued frames one socket write carries at most. */
const WRITE_BATCH_BYTES = 64 * 1024

/**
 * Frames wait here while the destination is not connected or its socket is full. The queue is
 * bounded in messages and in bytes: a send to a full queue is dropped and counted, which is what a
 * lossy network may do and what the protocols are written to survive, instead of memory that grows
 * while a peer is down. Frames leave in the order they were queued, and only one connection at a
 * time carries them, so a link is FIFO as long as nothing is lost.
 */
export class Link {
  private queue: Array<Buffer> = []
  private head = 0
  private queuedBytes = 0
  private connection: Connection | undefined
  private waitingForDrain = false
  private flushScheduled = false
  /** Frames dropped because the queue was full. */
  dropped = 0

  constructor(private readonly capacity: LinkCapacity) {
    if (capacity.messages < 1 || capacity.bytes < 1) throw new Error(`link capacity must be positive, got ${JSON.stringify(capacity)}`)
  }

  /** Frames waiting to be written. */
  get queued(): number {
    return this.queue.length - this.head
  }

  /** The open connection carrying this link's frames, if there is one. */
  get current(): Connection | undefined {
    return this.connection
  }

  /** Queues a frame and writes what it can; false when the queue was full and the frame dropped. */
  enqueue(frame: Buffer): boolean {
    if (this.queued >= this.capacity.messages || this.queuedBytes + frame.length > this.capacity.bytes) {
      this.dropped++
      return false
    }
    this.queue.push(frame)
    this.queuedBytes += frame.length
    // Flush once the current burst of sends is over, so a burst (a Ready's messages, a broadcast)
    // leaves in one socket write instead of one write per message.
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(() => {
        this.flushScheduled = false
        this.flush()
      })
    }
    return true
  }

  /** Makes `connection` (open) the one that carries this link's frames, and writes what is queued. */
  attach(connection: Connection): void {
    this.connection = connection
    this.waitingForDrain = false
    this.flush()
  }

  /** Forgets `connection` if it is the current one (it ended); frames stay queued for the next. */
  detach(connection: Connection): void {
    if (this.connection === connection) {
      this.connection = undefined
      this.waitingForDrain = false
    }
  }

  /** Drops every queued frame (the node is shutting down, or the destination is gone for good). */
  clear(): void {
    this.queue = []
    this.head = 0
    this.queuedBytes = 0
  }

  private flush(): void {
    const connection = this.connection
    if (connection === undefined || !connection.isOpen || this.waitingForDrain) return
    while (this.head < this.queue.length) {
      if (connection.needsDrain) {
        this.waitingForDrain = true
        connection.onDrain(() => {
          if (this.connection !== connection) return
          this.waitingForDrain = false
          this.flush()
        })
        return
      }
      const batch = this.takeBatch()
      if (!connection.write(batch)) {
        // The socket took the batch but is now full; the next round waits for it to drain.
        if (!connection.isOpen) return
      }
    }
  }

  /** Removes up to WRITE_BATCH_BYTES of frames from the queue (at least one) as one buffer. */
  private takeBatch(): Buffer {
    const frames: Array<Buffer> = []
    let bytes = 0
    while (this.head < this.queue.length) {
      const frame = this.queue[this.head]!
      if (frames.length > 0 && bytes + frame.length > WRITE_BATCH_BYTES) break
      frames.push(frame)
      bytes += frame.length
      this.head++
    }
    this.queuedBytes -= bytes
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes)
  }
}
