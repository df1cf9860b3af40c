// Merkle trees for anti-entropy (Dynamo §4.7, after Merkle 1987): a replica summarises its keys'
// version digests in a binary tree of fixed depth over the hash space, so two replicas find the keys
// they disagree on by comparing hashes from the root down, not by sending every key. One tree covers
// the keys a pair of replicas share (Riak keeps one per ring range); updates are incremental.
import { assert } from "../assert.ts"
import { HASH_SPACE, keyHash, mix32, murmur3 } from "../hashring/hash.ts"
import type { KeyRange } from "../hashring/key-range.ts"

/**
 * A Merkle tree of `2^depth` leaves, leaf `i` holding the keys whose hash has `i` in its top `depth`
 * bits. `hashes` is a heap: the root at 1, node `k`'s children at `2k` and `2k + 1`, the leaves from
 * `2^depth`. A leaf's hash is the XOR of its entries' hashes, so an update changes it in O(1); an inner
 * node's hash mixes its children's. Mutable: {@link update} changes it in place, as a replica's
 * key-value store changes under it.
 */
export interface MerkleTree {
  readonly depth: number
  readonly hashes: Uint32Array
  /** Per leaf: key to version digest. */
  readonly leaves: ReadonlyArray<Map<string, number>>
}

/** The deepest tree allowed: 2^16 leaves, 512 KiB of hashes. */
export const DEPTH_MAX = 16

/** An empty tree of `depth` levels below the root. */
export const makeTree = (depth: number): MerkleTree => {
  assert(Number.isInteger(depth) && depth >= 0 && depth <= DEPTH_MAX, () => `Merkle depth ${depth} outside 0..${DEPTH_MAX}`)
  const leafCount = 2 ** depth
  const leaves = Array.from({ length: leafCount }, () => new Map<string, number>())
  const tree = { depth, hashes: new Uint32Array(2 * leafCount), leaves }
  for (let node = leafCount - 1; node >= 1; node--) tree.hashes[node] = combine(tree.hashes[2 * node]!, tree.hashes[2 * node + 1]!)
  return tree
}

/** A tree of `depth` over `entries` (key to version digest). */
export const buildTree = (depth: number, entries: Iterable<readonly [string, number]>): MerkleTree => {
  const tree = makeTree(depth)
  for (const [key, digest] of entries) update(tree, key, digest)
  return tree
}

/** The leaf that holds `key`. */
export const leafOf = (tree: MerkleTree, key: string): number => Math.floor(keyHash(key) / (HASH_SPACE / 2 ** tree.depth))

/** The key range leaf `leaf` covers, in the ring's form (start exclusive, end inclusive). */
export const leafRange = (tree: MerkleTree, leaf: number): KeyRange => {
  const width = HASH_SPACE / 2 ** tree.depth
  return { start: leaf === 0 ? HASH_SPACE - 1 : leaf * width - 1, end: (leaf + 1) * width - 1 }
}

const combine = (left: number, right: number): number => mix32((Math.imul(left, 0x9e3779b1) ^ right ^ 0x5bd1e995) >>> 0)

const entryHash = (key: string, digest: number): number => murmur3(key, digest)

/**
 * Sets `key`'s version digest (`undefined` removes the key) and rehashes the path to the root:
 * O(depth) work, whatever the number of keys.
 */
export const update = (tree: MerkleTree, key: string, digest: number | undefined): void => {
  assert(digest === undefined || (Number.isInteger(digest) && digest >= 0 && digest < HASH_SPACE), () => `digest ${digest} of ${key} is not 32-bit`)
  const leaf = leafOf(tree, key)
  const entries = tree.leaves[leaf]!
  const before = entries.get(key)
  if (before === digest) return
  let node = 2 ** tree.depth + leaf
  let hash = tree.hashes[node]!
  if (before !== undefined) hash ^= entryHash(key, before)
  if (digest !== undefined) hash ^= entryHash(key, digest)
  if (digest === undefined) entries.delete(key)
  else entries.set(key, digest)
  tree.hashes[node] = hash
  for (node >>= 1; node >= 1; node >>= 1) tree.hashes[node] = combine(tree.hashes[2 * node]!, tree.hashes[2 * node + 1]!)
}

/** The tree's root hash: equal roots mean (but for a 2^-32 chance) equal contents. */
export const rootHash = (tree: MerkleTree): number => tree.hashes[1]!

/** Where two trees differ: the leaves whose hashes differ, and the keys within them. */
export interface MerkleDiff {
  readonly leaves: ReadonlyArray<number>
  readonly ranges: ReadonlyArray<KeyRange>
  /** Keys present in one tree only or with different digests, sorted. */
  readonly keys: ReadonlyArray<string>
}

/**
 * Compares two trees of the same depth from the root, descending only into subtrees whose hashes
 * differ (Dynamo §4.7), then compares the differing leaves key by key.
 */
export const diff = (left: MerkleTree, right: MerkleTree): MerkleDiff => {
  assert(left.depth === right.depth, () => `cannot compare Merkle trees of depth ${left.depth} and ${right.depth}`)
  const leaves = differingLeaves(left, right)
  const keys = leaves.flatMap((leaf) => differingKeys(left.leaves[leaf]!, right.leaves[leaf]!))
  return { leaves, ranges: leaves.map((leaf) => leafRange(left, leaf)), keys: keys.sort() }
}

/** The leaves under differing inner nodes whose own hashes differ, ascending. */
export const differingLeaves = (left: MerkleTree, right: MerkleTree): Array<number> => {
  const firstLeaf = 2 ** left.depth
  const result: Array<number> = []
  const pending = [1]
  while (pending.length > 0) {
    const node = pending.pop()!
    if (left.hashes[node] === right.hashes[node]) continue
    if (node >= firstLeaf) result.push(node - firstLeaf)
    else pending.push(2 * node + 1, 2 * node)
  }
  return result
}

const differingKeys = (left: Map<string, number>, right: Map<string, number>): Array<string> => {
  const keys: Array<string> = []
  for (const [key, digest] of left) if (right.get(key) !== digest) keys.push(key)
  for (const key of right.keys()) if (!left.has(key)) keys.push(key)
  return keys
}
