// A real node's one mailbox (and any other one-receiver handoff of a real process): bounded, dropping when full, with a single waiting receiver like the simulator's.
import { Effect } from "effect"
import type { Envelope } from "../env/index.ts"

/**
 * Messages wait here between the socket that read them and the fiber that receives them. It holds
 * at most `capacity` messages; a message that arrives to a full mailbox is dropped and counted, as
 * the simulator drops one (`mailbox-full`), so a slow node cannot make its peers' messages grow
 * its memory without bound. Only one fiber may wait at a time, as the Network contract says.
 * A message offered to a waiting fiber resumes it at once, in the offerer's turn of the event loop
 * (an Effect Queue would resume it on a later turn, through `setImmediate`).
 */
export class Mailbox<Item = Envelope> {
  private items: Array<Item> = []
  private head = 0
  private waiter: ((item: Item) => void) | undefined
  /** Messages dropped because the mailbox was full. */
  dropped = 0

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`mailbox capacity must be a positive integer, got ${capacity}`)
  }

  /** Messages waiting. */
  get size(): number {
    return this.items.length - this.head
  }

  /** Hands `item` to the waiting fiber, or queues it; false when it was dropped. */
  offer(item: Item): boolean {
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter(item)
      return true
    }
    if (this.size >= this.capacity) {
      this.dropped++
      return false
    }
    this.items.push(item)
    return true
  }

  /** Waits for the next message. */
  readonly receive: Effect.Effect<Item> = Effect.callback<Item>((resume) => {
    const waiter = (next: Item) => resume(Effect.succeed(next))
    const item = this.takeOrWait(waiter)
    if (item !== undefined) {
      resume(Effect.succeed(item))
      return
    }
    return Effect.sync(() => this.cancelWait(waiter))
  })

  /** Waits for the next message, then takes those already waiting behind it, up to `max` in all. */
  receiveAll(max: number): Effect.Effect<ReadonlyArray<Item>> {
    return Effect.map(this.receive, (first) => {
      const batch = [first]
      while (batch.length < max && this.head < this.items.length) batch.push(this.take())
      return batch
    })
  }

  /** Waits at most `durationMs` (real, monotonic time) for the next message; `undefined` if none came. */
  receiveWithin(durationMs: number): Effect.Effect<Item | undefined> {
    return Effect.callback<Item | undefined>((resume) => {
      // Whichever comes first, a message or the timer, cancels the other.
      const waiter = (next: Item) => {
        clearTimeout(timer)
        resume(Effect.succeed(next))
      }
      // setTimeout may fire a fraction of a millisecond early by the monotonic clock the node's
      // Clock reads (performance.now), so a firing before the deadline waits again for the rest.
      const deadlineMs = performance.now() + Math.max(0, durationMs)
      const expire = () => {
        const remainingMs = deadlineMs - performance.now()
        if (remainingMs > 0) {
          timer = setTimeout(expire, Math.ceil(remainingMs))
          return
        }
        this.cancelWait(waiter)
        resume(Effect.undefined)
      }
      let timer = setTimeout(expire, Math.max(0, Math.ceil(durationMs)))
      let item: Item | undefined
      try {
        item = this.takeOrWait(waiter)
      } catch (error) {
        clearTimeout(timer)
        throw error
      }
      if (item !== undefined) {
        clearTimeout(timer)
        resume(Effect.succeed(item))
        return
      }
      return Effect.sync(() => {
        clearTimeout(timer)
        this.cancelWait(waiter)
      })
    })
  }

  /** Wakes no one and forgets every message: the node is shutting down. */
  clear(): void {
    this.items = []
    this.head = 0
    this.waiter = undefined
  }

  private takeOrWait(waiter: (item: Item) => void): Item | undefined {
    if (this.head < this.items.length) return this.take()
    if (this.waiter !== undefined) throw new Error("two fibers receive from one node's mailbox at once")
    this.waiter = waiter
    return undefined
  }

  /** The oldest waiting message; the mailbox must have one. */
  private take(): Item {
    const item = this.items[this.head]!
    this.items[this.head] = undefined as unknown as Item
    this.head++
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      // Compact now and then, so a mailbox that never empties does not keep its consumed slots.
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  private cancelWait(waiter: (item: Item) => void): void {
    if (this.waiter === waiter) this.waiter = undefined
  }
}
