// Dotted version vectors and sibling sets for the quorum store: the lattice laws of sync, accurate
// happened-before, and "a write that names the version it read supersedes it; concurrent writes are
// siblings", checked over generated histories of writes, reads and syncs among replicas.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  compare,
  type DottedVersionVector,
  empty,
  lastWriterWins,
  put,
  type SiblingSet,
  sync,
  values,
  versionDigest
} from "../src/protocols/quorum/index.ts"

/** Fixed fast-check seeds: the tests are deterministic, like everything else here. */
const runs = (numRuns: number) => ({ numRuns, seed: 12 })

type Write = { readonly id: number }

/** One step of a history over three replicas: a client reads, a coordinator writes, two replicas sync. */
type Step =
  | { readonly _tag: "Read"; readonly replica: number }
  | { readonly _tag: "Write"; readonly coordinator: number; readonly snapshot: number }
  | { readonly _tag: "Sync"; readonly into: number; readonly from: number }

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ _tag: fc.constant("Read" as const), replica: fc.nat(2) }),
  fc.record({ _tag: fc.constant("Write" as const), coordinator: fc.nat(2), snapshot: fc.nat() }),
  fc.record({ _tag: fc.constant("Sync" as const), into: fc.nat(2), from: fc.nat(2) })
)

const historyArbitrary = fc.array(stepArbitrary, { minLength: 1, maxLength: 40 })

const replicaNames = ["r1", "r2", "r3"]

/** What a history produced: every state each replica passed through, and the truth about each write. */
interface Played {
  readonly replicas: Array<SiblingSet<Write>>
  readonly states: Array<SiblingSet<Write>>
  readonly versions: Map<number, DottedVersionVector>
  /** The ground truth: each write's causal past, the writes its client had seen (transitively). */
  readonly pasts: Map<number, Set<number>>
}

/**
 * Plays `steps`. A write's client read one of the snapshots taken so far (picked by `snapshot`; none
 * yet makes it a blind write), so clients write with stale contexts as often as with fresh ones.
 */
const play = (steps: ReadonlyArray<Step>): Played => {
  const replicas = replicaNames.map(() => empty<Write>())
  const snapshots: Array<SiblingSet<Write>> = []
  const states: Array<SiblingSet<Write>> = [...replicas]
  const versions = new Map<number, DottedVersionVector>()
  const pasts = new Map<number, Set<number>>()
  for (const step of steps) {
    if (step._tag === "Read") snapshots.push(replicas[step.replica]!)
    if (step._tag === "Sync") replicas[step.into] = sync(replicas[step.into]!, replicas[step.from]!)
    if (step._tag === "Write") {
      const read = snapshots.length === 0 ? empty<Write>() : snapshots[step.snapshot % snapshots.length]!
      const id = versions.size
      const coordinator = replicaNames[step.coordinator]!
      const written = put(replicas[step.coordinator]!, read.context, { id }, coordinator)
      replicas[step.coordinator] = written
      versions.set(id, written.siblings.find((sibling) => sibling.value.id === id)!.version)
      pasts.set(id, new Set(read.siblings.flatMap((sibling) => [sibling.value.id, ...pasts.get(sibling.value.id)!])))
    }
    states.push(...replicas)
  }
  return { replicas, states, versions, pasts }
}

const ids = (set: SiblingSet<Write>) => values(set).map((value) => value.id)

const syncAll = (sets: ReadonlyArray<SiblingSet<Write>>) => sets.reduce((merged, set) => sync(merged, set), empty<Write>())

describe("writes and siblings", () => {
  it("a write that names the context it read supersedes what it read", () => {
    // Reference: DVV paper §1, "a write ... that supersedes the versions it read".
    const first = put(empty<string>(), {}, "a", "r1")
    const second = put(first, first.context, "b", "r1")
    expect(values(second)).toEqual(["b"])
    expect(compare(first.siblings[0]!.version, second.siblings[0]!.version)).toBe("before")
  })

  it("two writes through one coordinator that did not see each other are both kept", () => {
    // Reference: DVV paper §3, the case per-server version vectors get wrong: two clients write
    // through the same server, and the second did not read the first.
    const first = put(empty<string>(), {}, "a", "r1")
    const second = put(first, {}, "b", "r1")
    expect(values(second)).toEqual(["a", "b"])
    expect(compare(second.siblings[0]!.version, second.siblings[1]!.version)).toBe("concurrent")
    // A client that reads both and writes once resolves them into one value.
    expect(values(put(second, second.context, "a+b", "r2"))).toEqual(["a+b"])
  })

  it("a write with a stale context supersedes what it saw and keeps what it did not", () => {
    const a = put(empty<string>(), {}, "a", "r1")
    const stale = a.context
    const b = put(a, {}, "b", "r1")
    const c = put(b, stale, "c", "r1")
    expect(values(c)).toEqual(["b", "c"])
  })

  it("compare agrees with the ground truth of who read what, for every pair of writes", () => {
    fc.assert(
      fc.property(historyArbitrary, (steps) => {
        const { versions, pasts } = play(steps)
        for (const [left, leftVersion] of versions) {
          for (const [right, rightVersion] of versions) {
            const expected =
              left === right ? "equal" : pasts.get(right)!.has(left) ? "before" : pasts.get(left)!.has(right) ? "after" : "concurrent"
            expect(compare(leftVersion, rightVersion), `writes ${left} and ${right}`).toBe(expected)
          }
        }
      }),
      runs(300)
    )
  })

  it("happened-before is a strict partial order: irreflexive, antisymmetric, transitive", () => {
    fc.assert(
      fc.property(historyArbitrary, (steps) => {
        const all = [...play(steps).versions.values()]
        const before = (left: DottedVersionVector, right: DottedVersionVector) => compare(left, right) === "before"
        for (const a of all) {
          expect(before(a, a)).toBe(false)
          for (const b of all) {
            if (before(a, b)) expect(before(b, a)).toBe(false)
            if (before(a, b)) expect(compare(b, a)).toBe("after")
            for (const c of all) if (before(a, b) && before(b, c)) expect(before(a, c)).toBe(true)
          }
        }
      }),
      runs(150)
    )
  })

  it("siblings are exactly the writes no other write superseded, once every replica has synced", () => {
    fc.assert(
      fc.property(historyArbitrary, (steps) => {
        const { replicas, states, pasts } = play(steps)
        for (const state of states) {
          // Each replica's siblings are pairwise concurrent in the ground truth.
          for (const left of ids(state)) for (const right of ids(state)) expect(pasts.get(right)!.has(left)).toBe(false)
        }
        // No write is lost: after a full sync, each write is a sibling or in a sibling's past.
        const superseded = new Set([...pasts.values()].flatMap((past) => [...past]))
        const maximal = [...pasts.keys()].filter((id) => !superseded.has(id))
        expect(ids(syncAll(replicas))).toEqual(expect.arrayContaining(maximal))
        expect(ids(syncAll(replicas)).sort((a, b) => a - b)).toEqual(maximal.sort((a, b) => a - b))
      }),
      runs(300)
    )
  })
})

describe("sync is a join: replicas converge whatever the order of exchanges", () => {
  /** Three states drawn from one history (any replica, any moment). */
  const triple = fc.tuple(historyArbitrary, fc.nat(), fc.nat(), fc.nat()).map(([steps, a, b, c]) => {
    const { states } = play(steps)
    return [states[a % states.length]!, states[b % states.length]!, states[c % states.length]!] as const
  })

  it("is commutative", () => {
    fc.assert(fc.property(triple, ([a, b]) => {
        expect(sync(a, b)).toEqual(sync(b, a))
      }), runs(300))
  })

  it("is associative", () => {
    fc.assert(fc.property(triple, ([a, b, c]) => {
        expect(sync(sync(a, b), c)).toEqual(sync(a, sync(b, c)))
      }), runs(300))
  })

  it("is idempotent, and a state synced with an older state of the same replica is unchanged", () => {
    fc.assert(
      fc.property(historyArbitrary, (steps) => {
        const { states } = play(steps)
        for (const state of states) expect(sync(state, state)).toEqual(state)
        // States of one replica only grow: its latest state absorbs each of its earlier ones.
        for (let replica = 0; replica < 3; replica++) {
          const own = states.filter((_, index) => index % 3 === replica)
          const latest = own[own.length - 1]!
          for (const earlier of own) expect(sync(latest, earlier)).toEqual(latest)
        }
      }),
      runs(150)
    )
  })

  it("gives equal digests to equal states and different digests to different ones", () => {
    fc.assert(
      fc.property(triple, ([a, b]) => {
        const equal = JSON.stringify(a) === JSON.stringify(b)
        expect(versionDigest(a) === versionDigest(b)).toBe(equal)
      }),
      runs(300)
    )
  })
})

describe("last-writer-wins", () => {
  it("is used only when asked: by default concurrent writes stay siblings", () => {
    const a = put(empty<{ at: number; text: string }>(), {}, { at: 5, text: "a" }, "r1")
    const both = sync(a, put(empty(), {}, { at: 9, text: "b" }, "r2"))
    expect(values(both).map((value) => value.text)).toEqual(["a", "b"])
    const resolved = lastWriterWins(both, (value) => value.at)
    expect(values(resolved).map((value) => value.text)).toEqual(["b"])
    // The loser is superseded everywhere the resolved state syncs, not merely hidden here.
    expect(values(sync(a, resolved)).map((value) => value.text)).toEqual(["b"])
  })

  it("breaks timestamp ties by dot, the same way on every replica", () => {
    const a = put(empty<number>(), {}, 7, "r1")
    const both = sync(a, put(empty<number>(), {}, 7, "r2"))
    const winner = lastWriterWins(both, (value) => value).siblings[0]!.version.dot
    expect(winner).toEqual({ node: "r2", counter: 1 })
    expect(lastWriterWins(sync(put(empty<number>(), {}, 7, "r2"), a), (value) => value)).toEqual(lastWriterWins(both, (value) => value))
  })
})
