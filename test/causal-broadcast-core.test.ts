// Unit and property tests of the causal-broadcast core: anti-entropy order and batch bound, the bounded receive buffer.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  type BroadcastState,
  deliverable,
  initialState,
  makeBroadcast,
  markDelivered,
  missingFor,
  receive
} from "../src/protocols/causal-broadcast/core.ts"
import type { Data } from "../src/protocols/causal-broadcast/messages.ts"

/**
 * Plays a causal history among `nodes` nodes: each choice either makes node `i` broadcast, or
 * makes it deliver one message it can deliver (of those broadcast so far). Returns every state.
 */
const playHistory = (nodes: number, choices: ReadonlyArray<readonly [number, number]>): Array<BroadcastState> => {
  const states = Array.from({ length: nodes }, (_, index) => initialState(`n${index + 1}`))
  const broadcast: Array<Data> = []
  for (const [node, pick] of choices) {
    const state = states[node % nodes]!
    const candidates = broadcast.filter((message) => deliverable(state, message))
    if (pick % 3 === 0 || candidates.length === 0) {
      const message = makeBroadcast(state, `${state.self}-${broadcast.length}`)
      markDelivered(state, message)
      broadcast.push(message)
    } else {
      markDelivered(state, candidates[pick % candidates.length]!)
    }
  }
  return states
}

/** A receiver that has delivered what `state` has, without its store: enough for `deliverable`. */
const viewOf = (state: BroadcastState): BroadcastState => {
  const view = initialState(state.self)
  Object.assign(view.delivered, state.delivered)
  return view
}

const lackedCount = (sender: BroadcastState, receiver: BroadcastState): number => {
  let count = 0
  for (const [origin, list] of sender.store) count += Math.max(0, list.length - (receiver.delivered[origin] ?? 0))
  return count
}

const historyArbitrary = fc.record({
  nodes: fc.integer({ min: 2, max: 6 }),
  choices: fc.array(fc.tuple(fc.nat(5), fc.nat(100)), { minLength: 1, maxLength: 80 }),
  limit: fc.integer({ min: 1, max: 10 })
})

describe("anti-entropy (missingFor)", () => {
  it("sends what the peer lacks in an order it can deliver one by one", () => {
    // Set up: n1 delivered n2#1 (broadcast by n2) and then broadcast n1#1, which depends on it.
    const [n1, n2, n3] = playHistory(3, [[1, 0], [0, 1], [0, 0]])
    expect(n1!.delivered).toEqual({ n1: 1, n2: 1 })
    // Act: n3 has nothing; by origin name n1#1 would come first, though it cannot be delivered first.
    const batch = missingFor(n1!, n3!.delivered, 64)
    // Check: n2#1 first, then n1#1.
    expect(batch.map((message) => `${message.origin}#${message.sequence}`)).toEqual(["n2#1", "n1#1"])
    expect(n2!.delivered).toEqual({ n2: 1 })
  })

  it("in any causal history, each message of a batch is deliverable after the ones before it, and the batch is bounded", () => {
    fc.assert(
      fc.property(historyArbitrary, ({ nodes, choices, limit }) => {
        // Set up: a random history; node 1 answers node 2's anti-entropy.
        const [sender, receiver] = playHistory(nodes, choices)
        const view = viewOf(receiver!)
        // Act.
        const batch = missingFor(sender!, receiver!.delivered, limit)
        // Check: the bound, that nothing lacked is left out of a short batch, and the order.
        expect(batch.length).toBeLessThanOrEqual(limit)
        expect(batch.length).toBe(Math.min(limit, lackedCount(sender!, receiver!)))
        for (const message of batch) {
          expect(deliverable(view, message)).toBe(true)
          markDelivered(view, message)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("bounded batches into a bounded buffer, in any arrival order, bring the peer level with the sender", () => {
    fc.assert(
      fc.property(historyArbitrary, fc.integer({ min: 1, max: 4 }), fc.nat(), (history, maxPending, shuffleSeed) => {
        // Set up: the receiver buffers at most `maxPending` undeliverable messages.
        const [sender] = playHistory(history.nodes, history.choices)
        const receiver = initialState("receiver", maxPending)
        let random = shuffleSeed
        const nextRandom = () => (random = (random * 1103515245 + 12345) % 2147483648)
        // Act: rounds of anti-entropy, each batch arriving reversed or shuffled (a bounded number of rounds).
        let rounds = 0
        while (lackedCount(sender!, receiver) > 0 && rounds < 200) {
          rounds++
          const batch = missingFor(sender!, receiver.delivered, history.limit)
          const arrival = rounds % 2 === 0 ? [...batch].reverse() : [...batch].sort(() => (nextRandom() % 3) - 1)
          for (const message of arrival) {
            const view = viewOf(receiver)
            for (const delivered of receive(receiver, message)) {
              // Each delivery is causal at the moment it happens.
              expect(deliverable(view, delivered)).toBe(true)
              markDelivered(view, delivered)
            }
            expect(receiver.pending.size).toBeLessThanOrEqual(maxPending)
          }
        }
        // Check: every message arrived; at least one per round is delivered, so the rounds suffice.
        expect(lackedCount(sender!, receiver)).toBe(0)
      }),
      { numRuns: 200 }
    )
  })
})

describe("receive buffer", () => {
  /** n1's first `count` messages, each depending on the one before. */
  const chain = (count: number): Array<Data> => {
    const state = initialState("n1")
    return Array.from({ length: count }, (_, index) => {
      const message = makeBroadcast(state, `n1-${index + 1}`)
      markDelivered(state, message)
      return message
    })
  }

  it("delivers a chain that arrives backwards once its first message arrives", () => {
    // Set up.
    const messages = chain(5)
    const receiver = initialState("n2")
    // Act: n1#5 .. n1#2 wait in the buffer.
    for (const message of [...messages].reverse().slice(0, 4)) expect(receive(receiver, message)).toEqual([])
    expect(receiver.pending.size).toBe(4)
    const delivered = receive(receiver, messages[0]!)
    // Check: all five, in order, and the buffer is empty.
    expect(delivered.map((message) => message.sequence)).toEqual([1, 2, 3, 4, 5])
    expect(receiver.pending.size).toBe(0)
  })

  it("a full buffer still takes a deliverable message, and drops the message furthest from deliverable", () => {
    // Set up: a buffer of two holds n1#3 and n1#4.
    const messages = chain(6)
    const receiver = initialState("n2", 2)
    receive(receiver, messages[2]!)
    receive(receiver, messages[3]!)
    expect(receiver.pending.size).toBe(2)
    // Act: n1#6 is further than both, so it is dropped; n1#2 is nearer than n1#4, which makes room for it.
    expect(receive(receiver, messages[5]!)).toEqual([])
    expect(receiver.pending.get("n1", 6)).toBeUndefined()
    expect(receive(receiver, messages[1]!)).toEqual([])
    expect(receiver.pending.get("n1", 4)).toBeUndefined()
    expect(receiver.pending.size).toBe(2)
    // Check: n1#1 is deliverable, though the buffer is full, and unblocks n1#2 and n1#3.
    expect(receive(receiver, messages[0]!).map((message) => message.sequence)).toEqual([1, 2, 3])
    expect(receiver.pending.size).toBe(0)
  })

  it("ignores duplicates and messages already delivered", () => {
    const messages = chain(2)
    const receiver = initialState("n2")
    expect(receive(receiver, messages[1]!)).toEqual([])
    expect(receive(receiver, messages[1]!)).toEqual([])
    expect(receiver.pending.size).toBe(1)
    expect(receive(receiver, messages[0]!)).toHaveLength(2)
    expect(receive(receiver, messages[0]!)).toEqual([])
    expect(receive(receiver, messages[1]!)).toEqual([])
  })
})
