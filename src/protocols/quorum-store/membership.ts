// Membership changes (Dynamo §4.9): when a node learns that nodes joined or left, it computes the
// ring plan from the old placement to the new one and hands each range it must give up to the node
// that gains it, through the hint machinery (durable, retried until acknowledged). Once the new
// owner has a key, the old one lets it go. Reads and writes go on meanwhile, under the new ring.
// The adopted membership is durable, and each epoch mints write dots under its own name (actorOf).
import { keyHash, type KeyRange, plan, type Placement, withNode, withoutNode } from "../hashring/index.ts"
import type { Membership } from "./messages.ts"
import { addHint } from "./replica.ts"
import { type Effects, MEMBERSHIP_FILE, type MembershipFile, type NodeState } from "./state.ts"

/** `placement` with exactly `nodes` (each of weight 1), by joins and leaves from what it has. */
export const placementWith = (placement: Placement, nodes: ReadonlyArray<string>): Placement => {
  let result = placement
  for (const node of placement.nodes) if (!nodes.includes(node.id)) result = withoutNode(result, node.id)
  for (const node of nodes) if (!result.nodes.some((known) => known.id === node)) result = withNode(result, { id: node, weight: 1 })
  return result
}

/**
 * Adopts a newer membership and queues this node's part of the plan: the ranges it sends. The
 * adoption is persisted after the hints that hand those ranges over: a crash before it is synced
 * leaves the older epoch on disk, and the operator's repeat of the change is adopted and planned again.
 */
export const onMembership = (state: NodeState, effects: Effects, message: Membership): void => {
  if (message.epoch <= state.epoch || message.nodes.length === 0) return
  const before = state.placement
  adopt(state, { epoch: message.epoch, nodes: message.nodes })
  effects.events.push(["membership", { epoch: message.epoch, nodes: [...message.nodes] }])
  if (before.nodes.length > 0) queueTransfers(state, effects, before)
  const file: MembershipFile = { epoch: message.epoch, nodes: [...message.nodes] }
  effects.persist.set(MEMBERSHIP_FILE, file as never)
}

/** The membership a restarted node finds on disk, adopted again (its transfers were queued as durable hints before it was written). */
export const recoverMembership = (state: NodeState, file: MembershipFile | undefined): void => {
  if (file !== undefined && file.epoch > state.epoch && file.nodes.length > 0) adopt(state, file)
}

const adopt = (state: NodeState, membership: MembershipFile): void => {
  state.placement = placementWith(state.placement, membership.nodes)
  state.epoch = membership.epoch
}

/** Keeps each key of a range this node gives up (from `before` to its placement now) as a hint for the node that gains it. */
const queueTransfers = (state: NodeState, effects: Effects, before: Placement): void => {
  const self = state.config.self
  const index = keyIndex([...state.store.keys()])
  for (const move of plan(before, state.placement, state.config.n)) {
    for (const transfer of move.transfers) {
      if (transfer.from !== self) continue
      const keys = keysIn(index, move.range)
      for (const key of keys) addHint(state, effects, key, transfer.to, state.store.get(key)!)
      if (keys.length > 0) effects.events.push(["transfer", { to: transfer.to, range: move.range, keys }])
    }
  }
}

/**
 * The store's keys (in the store's order) with their hashes, and their places in that order sorted
 * by hash. A plan has thousands of ranges (a rendezvous plan one a partition), and hashing every
 * key again for each range cost a node with many keys that many times the work.
 */
export interface KeyIndex {
  readonly keys: ReadonlyArray<string>
  readonly hashes: ReadonlyArray<number>
  readonly byHash: ReadonlyArray<number>
}

export const keyIndex = (keys: ReadonlyArray<string>): KeyIndex => {
  const hashes = keys.map(keyHash)
  const byHash = keys.map((_, place) => place).sort((left, right) => hashes[left]! - hashes[right]! || left - right)
  return { keys, hashes, byHash }
}

/** The first position in `index.byHash` whose key hashes above `hash`, or its length. */
const firstAbove = (index: KeyIndex, hash: number): number => {
  let low = 0
  let high = index.byHash.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (index.hashes[index.byHash[middle]!]! > hash) high = middle
    else low = middle + 1
  }
  return low
}

/** The keys whose hashes `range` holds (see `contains`), in the store's order. */
export const keysIn = (index: KeyIndex, range: KeyRange): Array<string> => {
  const { byHash } = index
  const from = firstAbove(index, range.start)
  const to = firstAbove(index, range.end)
  const places =
    range.start === range.end ? [...byHash] : range.start < range.end ? byHash.slice(from, to) : [...byHash.slice(from), ...byHash.slice(0, to)]
  return places.sort((left, right) => left - right).map((place) => index.keys[place]!)
}
