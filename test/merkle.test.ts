// Merkle trees for the quorum store's anti-entropy: two replicas' trees differ exactly where their
// keys' versions differ, and an incremental update gives the tree a rebuild would.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { contains, keyHash } from "../src/protocols/hashring/index.ts"
import { buildTree, diff, leafOf, leafRange, makeTree, rootHash, update } from "../src/protocols/quorum/index.ts"

const runs = (numRuns: number) => ({ numRuns, seed: 12 })

/** A replica's contents: key to version digest (a small range of digests, so replicas often agree). */
const contentsArbitrary = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 3 }), { maxKeys: 60 })

/** Two replicas: one's contents, and the other's as a few edits of them (changed, added, removed keys). */
const replicaPairArbitrary = fc
  .tuple(contentsArbitrary, contentsArbitrary, fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 5 }), fc.integer({ min: 0, max: 6 }))
  .map(([left, extra, removed, depth]) => {
    const right = new Map(Object.entries(left))
    for (const [key, digest] of Object.entries(extra).slice(0, 5)) right.set(key, digest)
    for (const key of removed) right.delete(key)
    return { left: new Map(Object.entries(left)), right, depth }
  })

const differingKeys = (left: Map<string, number>, right: Map<string, number>) =>
  [...new Set([...left.keys(), ...right.keys()])].filter((key) => left.get(key) !== right.get(key)).sort()

describe("Merkle diff", () => {
  it("is empty exactly when the contents are equal", () => {
    // Reference: Dynamo §4.7, "if the hash values of the root of two trees are equal, then the values
    // of the leaves in the tree are equal and the nodes require no synchronization".
    fc.assert(
      fc.property(replicaPairArbitrary, ({ left, right, depth }) => {
        const result = diff(buildTree(depth, left), buildTree(depth, right))
        const equal = differingKeys(left, right).length === 0
        expect(result.keys.length === 0).toBe(equal)
        expect(result.leaves.length === 0).toBe(equal)
        expect(rootHash(buildTree(depth, left)) === rootHash(buildTree(depth, right))).toBe(equal)
      }),
      runs(400)
    )
  })

  it("finds every differing key and nothing else, in the leaves whose ranges hold them", () => {
    fc.assert(
      fc.property(replicaPairArbitrary, ({ left, right, depth }) => {
        const result = diff(buildTree(depth, left), buildTree(depth, right))
        const expected = differingKeys(left, right)
        expect(result.keys).toEqual(expected)
        for (const key of expected) {
          expect(result.ranges.some((range) => contains(range, keyHash(key))), key).toBe(true)
        }
        expect(new Set(expected.map((key) => leafOf(buildTree(depth, left), key))).size).toBe(result.leaves.length)
      }),
      runs(400)
    )
  })

  it("compares two trees of equal depth only", () => {
    expect(() => diff(makeTree(2), makeTree(3))).toThrow(/depth 2 and 3/)
  })
})

describe("Merkle updates", () => {
  it("leave the tree a rebuild from the final contents would give, whatever the order", () => {
    const editArbitrary = fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 4 }), fc.option(fc.integer({ min: 0, max: 5 }))), { maxLength: 80 })
    fc.assert(
      fc.property(editArbitrary, fc.integer({ min: 0, max: 8 }), (edits, depth) => {
        const tree = makeTree(depth)
        const contents = new Map<string, number>()
        for (const [key, digest] of edits) {
          update(tree, key, digest ?? undefined)
          if (digest === null) contents.delete(key)
          else contents.set(key, digest)
        }
        const rebuilt = buildTree(depth, [...contents].reverse())
        expect([...tree.hashes]).toEqual([...rebuilt.hashes])
        expect(diff(tree, rebuilt).keys).toEqual([])
      }),
      runs(300)
    )
  })

  it("change the root hash, and removing the key restores it", () => {
    const tree = buildTree(4, [["a", 1], ["b", 2]])
    const before = rootHash(tree)
    update(tree, "c", 3)
    expect(rootHash(tree)).not.toBe(before)
    update(tree, "c", undefined)
    expect(rootHash(tree)).toBe(before)
  })
})

describe("Merkle leaves", () => {
  it("tile the hash space: each key's hash lies in its own leaf's range and no other", () => {
    const tree = makeTree(3)
    for (const key of Array.from({ length: 200 }, (_, index) => `k${index}`)) {
      const leaf = leafOf(tree, key)
      for (let other = 0; other < 8; other++) expect(contains(leafRange(tree, other), keyHash(key))).toBe(other === leaf)
    }
  })
})
