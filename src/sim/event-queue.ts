// The simulator's event queue: a binary min-heap ordered by (time, sequence), so equal times run in insertion order.

/**
 * One scheduled event. The simulator's hot events (deliveries, timers) carry their data in fields
 * rather than in a closure, which keeps allocation per event low.
 */
export interface QueuedEvent {
  time: number
  sequence: number
  /** What the simulator does with the event; see Simulation.runEvent. */
  kind: number
  /** Kind-specific data. */
  data: any
}

/** A binary min-heap of events keyed by time, ties broken by insertion sequence. */
export class EventQueue {
  private readonly heap: Array<QueuedEvent> = []
  private nextSequence = 0

  get size(): number {
    return this.heap.length
  }

  /** Adds an event; returns it so the caller may recognise it later. */
  push(time: number, kind: number, data: unknown): QueuedEvent {
    return this.pushEvent({ time, sequence: 0, kind, data })
  }

  /**
   * Adds an event object the caller made, which may carry more fields than QueuedEvent (a
   * delivery does, which spares allocating its data separately). Its sequence is set here.
   */
  pushEvent<E extends QueuedEvent>(event: E): E {
    event.sequence = this.nextSequence++
    const heap = this.heap
    let index = heap.length
    heap.push(event)
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = heap[parentIndex]!
      if (!before(event, parent)) break
      heap[index] = parent
      index = parentIndex
    }
    heap[index] = event
    return event
  }

  /** The earliest event, without removing it. */
  peek(): QueuedEvent | undefined {
    return this.heap[0]
  }

  /** Removes and returns the earliest event. */
  pop(): QueuedEvent | undefined {
    const heap = this.heap
    const top = heap[0]
    if (top === undefined) return undefined
    const last = heap.pop()!
    if (heap.length > 0) {
      let index = 0
      const length = heap.length
      while (true) {
        const left = 2 * index + 1
        if (left >= length) break
        const right = left + 1
        let child = left
        if (right < length && before(heap[right]!, heap[left]!)) child = right
        if (!before(heap[child]!, last)) break
        heap[index] = heap[child]!
        index = child
      }
      heap[index] = last
    }
    return top
  }
}

const before = (a: QueuedEvent, b: QueuedEvent): boolean =>
  a.time < b.time || (a.time === b.time && a.sequence < b.sequence)
