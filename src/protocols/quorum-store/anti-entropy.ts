// Anti-entropy between replicas with Merkle trees (Dynamo §4.7): a node sends a peer the tree over
// the keys both own, the peer answers with its states of the keys under differing leaves, and the
// node sends its own back. Three messages, and only the keys that may differ cross the wire.
import { buildTree, differingLeaves, leafOf, type MerkleTree } from "../quorum/merkle-tree.ts"
import { versionDigest } from "../quorum/index.ts"
import type { KeyState, TreeReply, TreeRequest } from "./messages.ts"
import { mergeKey, ownersOf } from "./replica.ts"
import type { Effects, NodeState } from "./state.ts"

/** The keys of this node's store that `peer` owns too. */
const sharedKeys = (state: NodeState, peer: string): Array<string> =>
  [...state.store.keys()].filter((key) => {
    const owners = ownersOf(state, key)
    return owners.includes(peer) && owners.includes(state.config.self)
  })

const treeWith = (state: NodeState, peer: string): MerkleTree =>
  buildTree(
    state.config.merkleDepth,
    sharedKeys(state, peer).map((key) => [key, versionDigest(state.store.get(key)!)] as const)
  )

/** The entries of this node's store under `leaves` that `peer` owns too. */
const entriesIn = (state: NodeState, peer: string, tree: MerkleTree, leaves: ReadonlyArray<number>): Array<readonly [string, KeyState]> => {
  const wanted = new Set(leaves)
  return sharedKeys(state, peer)
    .filter((key) => wanted.has(leafOf(tree, key)))
    .map((key) => [key, state.store.get(key)!] as const)
}

/** One round: the next peer in turn (every other node of the placement) is sent the tree of shared keys. */
export const antiEntropyRound = (state: NodeState, effects: Effects): void => {
  const peers = state.placement.nodes.map((node) => node.id).filter((id) => id !== state.config.self)
  if (peers.length === 0) return
  const peer = peers[state.antiEntropyCursor++ % peers.length]!
  effects.messages.push([peer, { _tag: "TreeRequest", hashes: Array.from(treeWith(state, peer).hashes) }])
}

/** A peer's tree: answer with this node's states under the differing leaves, and ask for the peer's. */
export const onTreeRequest = (state: NodeState, effects: Effects, from: string, message: TreeRequest): void => {
  const mine = treeWith(state, from)
  if (message.hashes.length !== mine.hashes.length) return
  const theirs: MerkleTree = { depth: mine.depth, hashes: Uint32Array.from(message.hashes), leaves: [] }
  const leaves = differingLeaves(mine, theirs)
  if (leaves.length === 0) return
  effects.messages.push([from, { _tag: "TreeReply", entries: entriesIn(state, from, mine, leaves), leaves }])
}

/** The peer's states: merge them, and send this node's states under the same leaves. */
export const onTreeReply = (state: NodeState, effects: Effects, from: string, message: TreeReply): void => {
  for (const [key, set] of message.entries) mergeKey(state, effects, key, set)
  const tree = treeWith(state, from)
  const entries = entriesIn(state, from, tree, message.leaves)
  if (entries.length > 0) effects.messages.push([from, { _tag: "SyncPush", entries }])
}
