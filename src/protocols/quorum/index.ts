// Building blocks of the Dynamo-style quorum store: dotted version vectors, sibling sets and Merkle
// trees for anti-entropy. Pure functions over plain data; the store's shell wires them to the network.
export { compare, covers, type Dot, type DottedVersionVector, format, makeVersion } from "./dotted-version-vector.ts"
export { buildTree, diff, leafOf, leafRange, makeTree, type MerkleDiff, type MerkleTree, rootHash, update } from "./merkle-tree.ts"
export { empty, lastWriterWins, put, type Sibling, type SiblingSet, sync, values, versionDigest } from "./sibling-set.ts"
