// Membership changes (Dynamo §4.9): when a node learns that nodes joined or left, it computes the
// ring plan from the old placement to the new one and hands each range it must give up to the node
// that gains it, through the hint machinery (durable, retried until acknowledged). Once the new
// owner has a key, the old one lets it go. Reads and writes go on meanwhile, under the new ring.
import { contains, keyHash, plan, type Placement, withNode, withoutNode } from "../hashring/index.ts"
import type { Membership } from "./messages.ts"
import { addHint } from "./replica.ts"
import type { Effects, NodeState } from "./state.ts"

/** `placement` with exactly `nodes` (each of weight 1), by joins and leaves from what it has. */
export const placementWith = (placement: Placement, nodes: ReadonlyArray<string>): Placement => {
  let result = placement
  for (const node of placement.nodes) if (!nodes.includes(node.id)) result = withoutNode(result, node.id)
  for (const node of nodes) if (!result.nodes.some((known) => known.id === node)) result = withNode(result, { id: node, weight: 1 })
  return result
}

/** Adopts a newer membership and queues this node's part of the plan: the ranges it sends. */
export const onMembership = (state: NodeState, effects: Effects, message: Membership): void => {
  if (message.epoch <= state.epoch || message.nodes.length === 0) return
  const before = state.placement
  const after = placementWith(before, message.nodes)
  state.placement = after
  state.epoch = message.epoch
  effects.events.push(["membership", { epoch: message.epoch, nodes: [...message.nodes] }])
  if (before.nodes.length === 0) return
  const self = state.config.self
  for (const move of plan(before, after, state.config.n)) {
    for (const transfer of move.transfers) {
      if (transfer.from !== self) continue
      const keys = [...state.store.keys()].filter((key) => contains(move.range, keyHash(key)))
      for (const key of keys) addHint(state, effects, key, transfer.to, state.store.get(key)!)
      if (keys.length > 0) effects.events.push(["transfer", { to: transfer.to, range: move.range, keys }])
    }
  }
}
