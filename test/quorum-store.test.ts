// The quorum store's decisions as plain functions: a coordinator's write, its quorum and its sloppy
// replacement of a silent owner, read merges with siblings and read repair, hinted handoff, and
// anti-entropy. Each test names the rule of the Dynamo paper (DeCandia et al., 2007) it checks.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { contains, keyHash, makePlacement, preferenceList } from "../src/protocols/hashring/index.ts"
import { receive, recover, tick } from "../src/protocols/quorum-store/core.ts"
import { ownersOf } from "../src/protocols/quorum-store/replica.ts"
import type { KeyState, Message } from "../src/protocols/quorum-store/messages.ts"
import { type Effects, initialState, type NodeState, type QuorumConfig, valuesOf } from "../src/protocols/quorum-store/state.ts"
import { keyIndex, keysIn, placementWith } from "../src/protocols/quorum-store/membership.ts"
import { empty, put, versionDigest } from "../src/protocols/quorum/index.ts"
import { quorumConfig } from "./fixtures/quorum-config.ts"

const nodes = ["n1", "n2", "n3", "n4", "n5"]
const placement = makePlacement({ strategy: "consistent", nodes: nodes.map((id) => ({ id, weight: 1 })) })
const key = "k1"
const owners = preferenceList(placement, key, 3)
const standIns = preferenceList(placement, key, 5).slice(3)

const config = (self: string, overrides: Partial<QuorumConfig> = {}): QuorumConfig => quorumConfig(self, placement, overrides)

const sent = (effects: Effects, tag: Message["_tag"]) => effects.messages.filter(([, message]) => message._tag === tag)
const replies = (effects: Effects) => sent(effects, "Reply").map(([to, message]) => [to, message._tag === "Reply" ? message.outcome : undefined])

const putMessage = (value: number, context = {}): Message => ({ _tag: "Put", requestId: `c1:${value}`, key, value, context })

/** A coordinator (the key's first owner) that has taken a write of 7 from client c1. */
const coordinatorWithWrite = (overrides: Partial<QuorumConfig> = {}) => {
  const state = initialState(config(owners[0]!, overrides))
  const effects = receive(state, "c1", putMessage(7), 0)
  return { state, effects }
}

const requestIdOf = (effects: Effects): string => {
  const replicate = sent(effects, "Replicate")[0]![1]
  if (replicate._tag !== "Replicate") throw new Error("no Replicate")
  return replicate.requestId
}

describe("coordinating a write", () => {
  it("only an owner coordinates a write; another node names the owners", () => {
    // Reference: §4.5, the coordinator is among the top N of the preference list.
    const outsider = initialState(config(standIns[0]!))
    const effects = receive(outsider, "c1", putMessage(7), 0)
    expect(replies(effects)).toEqual([["c1", { _tag: "NotOwner", owners }]])
    // Nothing is written but the note that this Put was answered (see the next test).
    expect([...effects.persist.keys()]).toEqual(["puts-k1.json"])
  })

  it("a late copy of a refused Put is no write, even once the node owns the key and has restarted", () => {
    // The client took the refused write to an owner, and later writes superseded it there. A copy
    // of the refused Put that the network delayed must not become a second, blind write of its value.
    const outsider = standIns[0]!
    const withoutOutsider = nodes.filter((node) => node !== outsider)
    const state = initialState(config(outsider))
    receive(state, "admin", { _tag: "Membership", epoch: 1, nodes: withoutOutsider }, 0)
    const refused = receive(state, "c1", putMessage(7), 10)
    expect(replies(refused)[0]![1]).toMatchObject({ _tag: "NotOwner" })
    // The node restarts with what it had synced, then comes to own the key (the ring changes again).
    const restarted = initialState(config(outsider))
    const puts = refused.persist.get("puts-k1.json") as unknown as { recentPuts: Array<string> }
    recover(restarted, { store: new Map(), hints: new Map(), puts: new Map([[key, puts.recentPuts]]), membership: { epoch: 1, nodes: withoutOutsider } })
    receive(restarted, "admin", { _tag: "Membership", epoch: 2, nodes: nodes.filter((node) => node !== owners[0]) }, 20)
    expect(ownersOf(restarted, key)).toContain(outsider)
    const late = receive(restarted, "c1", putMessage(7), 30)
    expect(late.messages).toEqual([])
    expect(late.persist.size).toBe(0)
    expect(restarted.store.has(key)).toBe(false)
    // A Put it has not answered is taken as ever.
    expect(sent(receive(restarted, "c1", putMessage(8), 40), "Replicate").length).toBeGreaterThan(0)
  })

  it("keeps the version on disk with a hint per other owner, then sends a copy to each, and waits for W", () => {
    // Reference: §4.5, a write is successful once W nodes have it; §4.6, hinted handoff.
    const { state, effects } = coordinatorWithWrite()
    expect([...effects.persist.keys()].sort()).toEqual(["hints-k1.json", "puts-k1.json", "store-k1.json"])
    expect(sent(effects, "Replicate").map(([to]) => to).sort()).toEqual(owners.slice(1).sort())
    expect(replies(effects)).toEqual([])
    // One owner's acknowledgement makes two durable copies: W is reached, the client is told.
    const ack = receive(state, owners[1]!, { _tag: "ReplicateAck", requestId: requestIdOf(effects), key }, 5)
    expect(replies(ack)).toEqual([["c1", { _tag: "Written" }]])
    expect([...state.hints.get(key)!.keys()]).toEqual([owners[2]])
  })

  it("a duplicated Put is one write", () => {
    const { state } = coordinatorWithWrite()
    const again = receive(state, "c1", putMessage(7), 1)
    expect(again.messages).toEqual([])
    expect(valuesOf(state.store.get(key)!)).toEqual([7])
  })

  it("an owner that does not answer is replaced by the next healthy node, with a hint", () => {
    // Reference: §4.6, sloppy quorum: the replica goes to the next node on the ring, with a hint.
    const { state } = coordinatorWithWrite()
    const later = tick(state, 60)
    const copies = sent(later, "Replicate").map(([to, message]) => [to, message._tag === "Replicate" ? message.hintFor : undefined])
    expect(copies).toEqual([[standIns[0], owners[1]], [standIns[1], owners[2]]])
    expect(state.suspects.has(owners[1]!)).toBe(true)
  })

  it("without a sloppy quorum the copy is sent to the same owner again", () => {
    const { state } = coordinatorWithWrite({ sloppyQuorum: false })
    const later = tick(state, 60)
    expect(sent(later, "Replicate").map(([to]) => to).sort()).toEqual(owners.slice(1).sort())
  })
})

describe("a replica", () => {
  const set: KeyState = put(empty(), {}, { value: 9, timestampMs: 0 }, owners[0]!)

  it("keeps a copy for an owner as a hint, and hands it back until the owner acknowledges it", () => {
    // Reference: §4.6: the hinted replica is delivered once the owner recovers, then deleted.
    const standIn = initialState(config(standIns[0]!))
    const stored = receive(standIn, owners[0]!, { _tag: "Replicate", requestId: "r", key, set, hintFor: owners[1]! }, 0)
    expect(stored.events.map(([name]) => name)).toEqual(["standIn"])
    expect(standIn.store.has(key)).toBe(false)
    const round = tick(standIn, 0)
    expect(sent(round, "Handoff").map(([to]) => to)).toEqual([owners[1]])
    expect(standIn.hints.get(key)?.has(owners[1]!)).toBe(true)
    const owner = initialState(config(owners[1]!))
    const handedBack = receive(owner, standIns[0]!, sent(round, "Handoff")[0]![1], 1)
    receive(standIn, owners[1]!, sent(handedBack, "HandoffAck")[0]![1], 2)
    expect(standIn.hints.has(key)).toBe(false)
    expect(valuesOf(owner.store.get(key)!)).toEqual([9])
  })

  it("after a restart, a hint of a key it owns is merged into its store, so its dots are never reused", () => {
    const node = initialState(config(owners[0]!))
    const effects = recover(node, { store: new Map(), hints: new Map([[key, new Map([[owners[1]!, set]])]]) })
    expect(valuesOf(node.store.get(key)!)).toEqual([9])
    expect(effects.events.map(([name]) => name)).toEqual(["store"])
  })
})

describe("a restarted coordinator", () => {
  // A restart forgets every pending request, but not the messages about them still on the wire: a
  // reply to the earlier incarnation must match none of the new one's requests. Seed 40 of the
  // crashes swarm lost an acknowledged write when a read of k3 took a late reply for k1 as its own.
  const otherKey = ["k2", "k3", "k4", "k5", "k6"].find((candidate) => preferenceList(placement, candidate, 3).includes(owners[1]!))!
  const restarted = (before: NodeState): NodeState => {
    const after = initialState(before.config)
    recover(after, { store: new Map([...before.store].map(([name, set]) => [name, { set, recentPuts: [] }])), hints: before.hints, incarnation: before.incarnation })
    return after
  }

  it("does not count an acknowledgement of its earlier incarnation's write towards a new write", () => {
    // Reference: §4.5, a write succeeds once W nodes have it: the acknowledgement must be for that write.
    const before = initialState(config(owners[0]!))
    recover(before, { store: new Map(), hints: new Map() })
    const first = receive(before, "c1", putMessage(7), 0)
    const after = restarted(before)
    const second = receive(after, "c2", { _tag: "Put", requestId: "c2:8", key, value: 8, context: {} }, 100)
    const late = receive(after, owners[1]!, { _tag: "ReplicateAck", requestId: requestIdOf(first), key }, 110)
    expect(replies(late)).toEqual([])
    const own = receive(after, owners[1]!, { _tag: "ReplicateAck", requestId: requestIdOf(second), key }, 120)
    expect(replies(own)).toEqual([["c2", { _tag: "Written" }]])
  })

  it("does not merge a reply to its earlier incarnation's read of another key into a new read", () => {
    // Reference: §4.5, a read merges the versions of the key it asked R owners for.
    const before = initialState(config(standIns[0]!))
    recover(before, { store: new Map(), hints: new Map() })
    const firstFetch = sent(receive(before, "c1", { _tag: "Get", requestId: "g1", key }, 0), "Fetch")[0]![1]
    const after = restarted(before)
    const asked = receive(after, "c1", { _tag: "Get", requestId: "g2", key: otherKey }, 100)
    const fetch = sent(asked, "Fetch")[0]![1]
    if (firstFetch._tag !== "Fetch" || fetch._tag !== "Fetch") throw new Error("no Fetch")
    const stale: KeyState = put(empty(), {}, { value: 9, timestampMs: 0 }, owners[0]!)
    receive(after, owners[1]!, { _tag: "FetchReply", requestId: firstFetch.requestId, key, set: stale }, 110)
    const otherOwner = preferenceList(placement, otherKey, 3).find((node) => node !== owners[1])!
    const answered = receive(after, otherOwner, { _tag: "FetchReply", requestId: fetch.requestId, key: otherKey, set: empty() }, 120)
    expect(replies(answered)).toEqual([])
    expect(sent(answered, "Repair")).toEqual([])
  })

  it("keeps its incarnation on disk, one more than the last, before it sends anything", () => {
    const node = initialState(config(owners[0]!))
    const effects = recover(node, { store: new Map(), hints: new Map(), incarnation: 4 })
    expect(node.incarnation).toBe(5)
    expect(effects.persist.get("incarnation.json")).toEqual({ incarnation: 5 })
  })
})

describe("a read", () => {
  const left: KeyState = put(empty(), {}, { value: 1, timestampMs: 0 }, owners[0]!)
  const right: KeyState = put(empty(), {}, { value: 2, timestampMs: 5 }, owners[1]!)

  const readWith = (overrides: Partial<QuorumConfig> = {}) => {
    const coordinator = initialState(config(standIns[0]!, overrides))
    const asked = receive(coordinator, "c1", { _tag: "Get", requestId: "g", key }, 0)
    const fetch = sent(asked, "Fetch")[0]![1]
    const requestId = fetch._tag === "Fetch" ? fetch.requestId : ""
    receive(coordinator, owners[0]!, { _tag: "FetchReply", requestId, key, set: left }, 1)
    const answered = receive(coordinator, owners[1]!, { _tag: "FetchReply", requestId, key, set: right }, 2)
    return { asked, answered }
  }

  it("any node coordinates it, asks the owners, and returns concurrent writes as siblings", () => {
    // Reference: §4.4, divergent versions are all returned to the reader.
    const { asked, answered } = readWith()
    expect(sent(asked, "Fetch").map(([to]) => to)).toEqual(owners)
    const [[, outcome]] = replies(answered) as [[string, { _tag: string; values: Array<number> }]]
    expect(outcome._tag).toBe("Values")
    expect([...outcome.values].sort()).toEqual([1, 2])
  })

  it("repairs each replier that lacked the merge, with the merge (siblings kept)", () => {
    // Reference: §5, read repair.
    const { answered } = readWith()
    const repairs = sent(answered, "Repair")
    expect(repairs.map(([to]) => to).sort()).toEqual(owners.slice(0, 2).sort())
    for (const [, repair] of repairs) if (repair._tag === "Repair") expect(valuesOf(repair.set).sort()).toEqual([1, 2])
  })

  it("last-writer-wins, when asked for, keeps the later sibling only", () => {
    const coordinator = initialState(config(owners[0]!, { lastWriterWins: true }))
    receive(coordinator, owners[1]!, { _tag: "Repair", key, set: left }, 0)
    receive(coordinator, owners[1]!, { _tag: "Repair", key, set: right }, 1)
    expect(valuesOf(coordinator.store.get(key)!)).toEqual([2])
  })
})

describe("anti-entropy", () => {
  it("finds a key two owners disagree on through their Merkle trees and brings both to the merge", () => {
    // Reference: §4.7, replica synchronization with Merkle trees.
    const set: KeyState = put(empty(), {}, { value: 3, timestampMs: 0 }, owners[0]!)
    const ahead: NodeState = initialState(config(owners[0]!))
    const behind: NodeState = initialState(config(owners[1]!))
    ahead.store.set(key, set)
    let messages = tick(ahead, 0).messages.filter(([to]) => to === owners[1])
    for (let round = 0; round < 8 && messages.length === 0; round++) messages = tick(ahead, 250 * (round + 1)).messages.filter(([to]) => to === owners[1])
    expect(messages.map(([, message]) => message._tag)).toContain("TreeRequest")
    const request = messages.find(([, message]) => message._tag === "TreeRequest")![1]
    const reply = receive(behind, owners[0]!, request, 0)
    const push = receive(ahead, owners[1]!, reply.messages[0]![1], 0)
    receive(behind, owners[0]!, push.messages[0]![1], 0)
    expect(valuesOf(behind.store.get(key)!)).toEqual([3])
  })
})

describe("membership", () => {
  it("a join moves exactly the plan's ranges: each key whose owners gain the new node is handed to it, then let go", () => {
    // Reference: §4.9, adding a node: the nodes that no longer own keys transfer them to it.
    const four = placementWith(placement, ["n1", "n2", "n3", "n4"])
    const keys = Array.from({ length: 40 }, (_, index) => `key${index}`)
    const moved = keys.filter((name) => preferenceList(placement, name, 3).includes("n5"))
    const senders = new Map<string, NodeState>()
    for (const node of ["n1", "n2", "n3", "n4"]) {
      const state = initialState(config(node, { placement: four }))
      for (const name of keys) {
        if (preferenceList(four, name, 3).includes(node)) state.store.set(name, put(empty(), {}, { value: 1, timestampMs: 0 }, node))
      }
      senders.set(node, state)
    }
    // Act: every node learns that n5 joined.
    const handed = new Map<string, Array<string>>()
    for (const [node, state] of senders) {
      receive(state, "admin", { _tag: "Membership", epoch: 1, nodes }, 0)
      handed.set(node, [...state.hints.keys()])
    }
    // Check: the keys handed over are exactly those n5 now owns, each by one node that released it.
    expect([...handed.values()].flat().sort()).toEqual([...moved].sort())
    for (const [node, state] of senders) {
      const round = tick(state, 1000).messages
      for (const name of handed.get(node)!) {
        expect(preferenceList(four, name, 3)).toContain(node)
        expect(preferenceList(placement, name, 3)).not.toContain(node)
        const handoff = round.find(([, message]) => message._tag === "Handoff" && message.key === name)
        expect(handoff?.[0]).toBe("n5")
        const digest = versionDigest(state.hints.get(name)!.get("n5")!)
        receive(state, "n5", { _tag: "HandoffAck", key: name, digest }, 1001)
        expect(state.store.has(name)).toBe(false)
      }
    }
  })
})

describe("the keys of a range", () => {
  it("are the keys whose hashes the range holds, in the store's order, wrapping or whole ring alike", () => {
    // A range's keys are found by a search over the keys sorted by hash; the plain filter is the oracle.
    const hash = fc.oneof(fc.nat({ max: 2 ** 32 - 1 }), fc.constantFrom(0, 2 ** 32 - 1))
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 4 }), { maxLength: 60 }), hash, hash, fc.nat(), (keys, start, end, pick) => {
        // Ends at a key's own hash too, where `start < hash <= end` decides.
        const range = keys.length > 0 && pick % 3 === 0 ? { start, end: keyHash(keys[pick % keys.length]!) } : { start, end }
        expect(keysIn(keyIndex(keys), range)).toEqual(keys.filter((name) => contains(range, keyHash(name))))
      }),
      { numRuns: 2000, seed: 7 }
    )
  })
})

describe("a range that moves away and back", () => {
  // The key's first owner leaves the ring (epoch 1) and joins it again (epoch 2).
  const owner = owners[0]!
  const without = nodes.filter((node) => node !== owner)

  /** The owner after it coordinated a write of 7, handed the key over on leaving and let it go (every hint acknowledged). */
  const ownerThatLetGo = () => {
    const state = initialState(config(owner))
    const first = receive(state, "c1", putMessage(7), 0)
    const left = receive(state, "admin", { _tag: "Membership", epoch: 1, nodes: without }, 10)
    for (const [node, hint] of [...state.hints.get(key)!]) receive(state, node, { _tag: "HandoffAck", key, digest: versionDigest(hint) }, 20)
    return { state, first, left }
  }

  const replicated = (effects: Effects): KeyState => {
    const copy = sent(effects, "Replicate")[0]![1]
    if (copy._tag !== "Replicate") throw new Error("no Replicate")
    return copy.set
  }

  it("a write coordinated after the range comes back is not taken for one made before it left", () => {
    // Reference: §4.4, a version's dot names a write exactly once; §4.9, ranges move on joins and leaves.
    const { state, first } = ownerThatLetGo()
    expect(state.store.has(key)).toBe(false)
    receive(state, "admin", { _tag: "Membership", epoch: 2, nodes }, 30)
    const second = receive(state, "c2", { _tag: "Put", requestId: "c2:8", key, value: 8, context: {} }, 40)
    // Another owner that has the first write merges the second: a blind write concurrent with it.
    const replica = initialState(config(owners[1]!))
    receive(replica, owner, { _tag: "Replicate", requestId: "r1", key, set: replicated(first), hintFor: null }, 50)
    receive(replica, owner, { _tag: "Replicate", requestId: "r2", key, set: replicated(second), hintFor: null }, 60)
    expect(valuesOf(replica.store.get(key)!).sort()).toEqual([7, 8])
  })

  it("after a restart, a node keeps the ring it adopted and does not coordinate for a key it let go", () => {
    const { state, left } = ownerThatLetGo()
    expect(left.persist.has("membership.json")).toBe(true)
    // The adoption is persisted after the hints that hand the range over.
    expect([...left.persist.keys()].at(-1)).toBe("membership.json")
    const restarted = initialState(config(owner))
    const membership = left.persist.get("membership.json") as unknown as { epoch: number; nodes: Array<string> }
    recover(restarted, { store: new Map(), hints: new Map(), membership })
    expect(restarted.epoch).toBe(1)
    const answer = receive(restarted, "c2", { _tag: "Put", requestId: "c2:8", key, value: 8, context: {} }, 40)
    expect(replies(answer)).toEqual([["c2", { _tag: "NotOwner", owners: preferenceList(state.placement, key, 3) }]])
  })
})
