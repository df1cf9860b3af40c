// What a replica decides: merging states it is sent into its store or its hints, answering fetches,
// handing hints back to their owners. Plain synchronous functions over the node state.
import { preferenceList } from "../hashring/index.ts"
import { empty, lastWriterWins, sync, versionDigest } from "../quorum/index.ts"
import type { Fetch, Handoff, HandoffAck, KeyState, Repair, Replicate, SyncPush } from "./messages.ts"
import { type Effects, hintsFile, type NodeState, storeEvent, storeFile, type StoreFile } from "./state.ts"

/** The owners of `key` (its preference list of N). */
export const ownersOf = (state: NodeState, key: string): Array<string> => preferenceList(state.placement, key, state.config.n)

/** A node is healthy unless it timed out recently, as this node observed (no oracle). */
export const healthy = (state: NodeState, node: string, nowMs: number): boolean =>
  node === state.config.self || (state.suspects.get(node) ?? Number.NEGATIVE_INFINITY) <= nowMs

/** Last-writer-wins, when the store is configured for it; otherwise the set unchanged. */
export const resolve = (state: NodeState, set: KeyState): KeyState =>
  state.config.lastWriterWins ? lastWriterWins(set, (value) => value.timestampMs) : set

/** Sets `key` to `set` in the store, to be persisted and traced. */
export const storeKey = (state: NodeState, effects: Effects, key: string, set: KeyState): void => {
  state.store.set(key, set)
  const file: StoreFile = { set, recentPuts: state.recentPuts.get(key) ?? [] }
  effects.persist.set(storeFile(key), file as never)
  effects.events.push(storeEvent(key, set))
}

/** Merges `incoming` into this replica's state of `key`; true when that changed it. */
export const mergeKey = (state: NodeState, effects: Effects, key: string, incoming: KeyState): boolean => {
  const local = state.store.get(key) ?? empty()
  const merged = resolve(state, sync(local, incoming))
  if (versionDigest(merged) === versionDigest(local) && state.store.has(key)) return false
  storeKey(state, effects, key, merged)
  return true
}

/** Keeps `set` for `owner` until it can be handed back. */
export const addHint = (state: NodeState, effects: Effects, key: string, owner: string, set: KeyState): void => {
  const hints = state.hints.get(key) ?? new Map<string, KeyState>()
  hints.set(owner, sync(hints.get(owner) ?? empty(), set))
  state.hints.set(key, hints)
  persistHints(state, effects, key)
}

export const removeHint = (state: NodeState, effects: Effects, key: string, owner: string): void => {
  const hints = state.hints.get(key)
  if (hints === undefined || !hints.delete(owner)) return
  if (hints.size === 0) state.hints.delete(key)
  persistHints(state, effects, key)
}

const persistHints = (state: NodeState, effects: Effects, key: string): void => {
  const hints = state.hints.get(key)
  effects.persist.set(hintsFile(key), hints === undefined ? undefined : (Object.fromEntries(hints) as never))
}

/** A coordinator's copy: merged into the store, or kept as a hint when this node stands in for an owner. */
export const onReplicate = (state: NodeState, effects: Effects, from: string, message: Replicate): void => {
  const self = state.config.self
  if (message.hintFor !== null && message.hintFor !== self) {
    addHint(state, effects, message.key, message.hintFor, message.set)
    effects.events.push(["standIn", { key: message.key, owner: message.hintFor }])
  } else {
    mergeKey(state, effects, message.key, message.set)
  }
  effects.messages.push([from, { _tag: "ReplicateAck", requestId: message.requestId, key: message.key }])
}

export const onRepair = (state: NodeState, effects: Effects, message: Repair): void => {
  mergeKey(state, effects, message.key, message.set)
}

export const onFetch = (state: NodeState, effects: Effects, from: string, message: Fetch): void => {
  const set = state.store.get(message.key) ?? empty()
  effects.messages.push([from, { _tag: "FetchReply", requestId: message.requestId, key: message.key, set }])
}

export const onHandoff = (state: NodeState, effects: Effects, from: string, message: Handoff): void => {
  mergeKey(state, effects, message.key, message.set)
  effects.messages.push([from, { _tag: "HandoffAck", key: message.key, digest: versionDigest(message.set) }])
}

/** The owner has the hint: drop it, unless it grew since it was sent (the next round sends the rest). */
export const onHandoffAck = (state: NodeState, effects: Effects, from: string, message: HandoffAck): void => {
  const hint = state.hints.get(message.key)?.get(from)
  if (hint === undefined || versionDigest(hint) !== message.digest) return
  removeHint(state, effects, message.key, from)
  // Traced so that a run shows the handoff done, apart from copies the network delivered late.
  effects.events.push(["handedOff", { key: message.key, owner: from }])
  maybeRelease(state, effects, message.key)
}

export const onSyncPush = (state: NodeState, effects: Effects, message: SyncPush): void => {
  for (const [key, set] of message.entries) mergeKey(state, effects, key, set)
}

/** At most this many hints are sent per handoff round, so one round stays one bounded burst. */
export const HANDOFF_BATCH_MAX = 64

/**
 * A handoff round: sends each hint to its owner (owners this node suspects wait for the next round),
 * skipping keys a write of this node is still replicating. The hint stays until the owner acknowledges it.
 */
export const handoffRound = (state: NodeState, effects: Effects, nowMs: number): void => {
  const busy = new Set([...state.pending.values()].filter((pending) => pending._tag === "Write").map((pending) => pending.key))
  let sent = 0
  for (const [key, hints] of [...state.hints]) {
    if (busy.has(key)) continue
    for (const [owner, set] of [...hints]) {
      if (sent >= HANDOFF_BATCH_MAX) return
      if (!healthy(state, owner, nowMs)) continue
      effects.messages.push([owner, { _tag: "Handoff", key, set }])
      sent++
      if (!state.config.rules.keepHintAfterSend) removeHint(state, effects, key, owner)
    }
  }
}

/** A key this node no longer owns and no longer keeps for anyone is let go. */
export const maybeRelease = (state: NodeState, effects: Effects, key: string): void => {
  if (!state.store.has(key) || state.hints.has(key) || ownersOf(state, key).includes(state.config.self)) return
  state.store.delete(key)
  effects.persist.set(storeFile(key), undefined)
  effects.events.push(storeEvent(key, empty()))
}
