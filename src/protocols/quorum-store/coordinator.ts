// What a coordinator decides: versions for writes, where their copies go (sloppy quorum), when a
// client is answered, read merges and read repair, and what timeouts do. Plain synchronous functions.
import { preferenceList, type ReplicaTarget, sloppyPreferenceList } from "../hashring/index.ts"
import { empty, put, sync, versionDigest } from "../quorum/index.ts"
import type { ClientOutcome, FetchReply, Get, Put, ReplicateAck } from "./messages.ts"
import { addHint, healthy, mergeKey, ownersOf, removeHint, resolve, storeKey } from "./replica.ts"
import {
  type Effects,
  nextRequestId,
  type NodeState,
  type PendingRead,
  type PendingWrite,
  putsFile,
  type PutsFile,
  RECENT_PUTS_MAX,
  valuesOf
} from "./state.ts"

const reply = (effects: Effects, client: string, requestId: string, outcome: ClientOutcome): void => {
  effects.messages.push([client, { _tag: "Reply", requestId, outcome }])
}

/**
 * The name a write's dot is minted under: the node itself under the initial ring, and a new name in
 * each membership epoch after it. A dot must come from an actor that keeps every dot it made for the
 * key, or it reuses one: the new write then looks already seen (and superseded) to every replica
 * that saw the old one, and is dropped. A node lets a key go only in an epoch in which it does not
 * own it, and coordinates only in epochs in which it does, so within one epoch the node keeps every
 * dot it made; a node that owned a key, let it go and owns it again (a range that moves back) mints
 * under a name it has never used for the key. Epochs are durable, so a restart never goes back to one.
 */
export const actorOf = (state: NodeState): string => (state.epoch === 0 ? state.config.self : `${state.config.self}@${state.epoch}`)

/**
 * A client's write. Only an owner coordinates it (Dynamo §4.5), under {@link actorOf}: an owner
 * keeps every dot it made for the key this epoch. Another node answers `NotOwner`, and the client
 * goes to an owner. The coordinator makes the version, keeps it and a hint for each other owner on
 * disk (so a crash or a lost message cannot leave an owner without it), and sends copies to the
 * healthy owners and stand-ins.
 */
export const onPut = (state: NodeState, effects: Effects, client: string, message: Put, nowMs: number): void => {
  const { self } = state.config
  const owners = ownersOf(state, message.key)
  // A copy of a Put this node answered before, taken or refused, is dropped. A refused one counts
  // too: its client has taken the write to an owner, and a late copy reaching this node once it owns
  // the key would otherwise become a second, blind write of the value, beside writes that superseded it.
  const recent = state.recentPuts.get(message.key) ?? []
  if (recent.includes(message.requestId)) return
  const answered = [...recent, message.requestId].slice(-RECENT_PUTS_MAX)
  state.recentPuts.set(message.key, answered)
  const file: PutsFile = { recentPuts: answered }
  effects.persist.set(putsFile(message.key), file as never)
  if (!owners.includes(self)) return reply(effects, client, message.requestId, { _tag: "NotOwner", owners })
  const local = state.store.get(message.key) ?? empty()
  const set = resolve(state, put(local, message.context, { value: message.value, timestampMs: nowMs }, actorOf(state)))
  storeKey(state, effects, message.key, set)
  for (const owner of owners) if (owner !== self) addHint(state, effects, message.key, owner, set)
  const requestId = nextRequestId(state)
  const targets: Array<ReplicaTarget> = state.config.sloppyQuorum
    ? sloppyPreferenceList(state.placement, message.key, state.config.n, (node) => healthy(state, node, nowMs))
    : owners.map((node) => ({ node }))
  const write: PendingWrite = {
    _tag: "Write",
    requestId,
    client,
    clientRequestId: message.requestId,
    key: message.key,
    set,
    startedMs: nowMs,
    targets: new Map(),
    acks: state.config.rules.acksAtStart(targets.length),
    replied: false
  }
  write.targets.set(self, { owner: self, sentMs: nowMs, acked: true, replaced: false })
  for (const target of targets) {
    if (target.node === self) continue
    sendCopy(state, effects, write, target.node, target.hintFor ?? target.node, nowMs)
  }
  state.pending.set(requestId, write)
  maybeAnswerWrite(state, effects, write)
}

const sendCopy = (state: NodeState, effects: Effects, write: PendingWrite, node: string, owner: string, nowMs: number): void => {
  write.targets.set(node, { owner, sentMs: nowMs, acked: false, replaced: false })
  const hintFor = node === owner ? null : owner
  effects.messages.push([node, { _tag: "Replicate", requestId: write.requestId, key: write.key, set: write.set, hintFor }])
}

const maybeAnswerWrite = (state: NodeState, effects: Effects, write: PendingWrite): void => {
  if (!write.replied && write.acks >= state.config.w) {
    write.replied = true
    reply(effects, write.client, write.clientRequestId, { _tag: "Written" })
  }
  if ([...write.targets.values()].filter((target) => target.acked).length >= state.config.n) state.pending.delete(write.requestId)
}

/** A copy is durable on `from`: it counts towards W, and the owner it is for no longer needs this node's hint. */
export const onReplicateAck = (state: NodeState, effects: Effects, from: string, message: ReplicateAck): void => {
  const write = state.pending.get(message.requestId)
  // Request ids are unique across restarts (nextRequestId); the key is checked too (replyMatches),
  // because an acknowledgement counted for the wrong write answers a client before W replicas have its write.
  if (write === undefined || write._tag !== "Write" || !state.config.rules.replyMatches(write, message.key)) return
  const target = write.targets.get(from)
  if (target === undefined || target.acked) return
  target.acked = true
  write.acks++
  const hint = state.hints.get(write.key)?.get(target.owner)
  if (hint !== undefined && versionDigest(hint) === versionDigest(write.set)) removeHint(state, effects, write.key, target.owner)
  maybeAnswerWrite(state, effects, write)
}

/** A client's read, coordinated by whichever node it reached: asks the key's owners and waits for R. */
export const onGet = (state: NodeState, effects: Effects, client: string, message: Get, nowMs: number): void => {
  const owners = ownersOf(state, message.key)
  const read: PendingRead = {
    _tag: "Read",
    requestId: nextRequestId(state),
    client,
    clientRequestId: message.requestId,
    key: message.key,
    startedMs: nowMs,
    owners,
    replies: new Map(),
    replied: false,
    repaired: undefined
  }
  state.pending.set(read.requestId, read)
  for (const owner of owners) {
    if (owner === state.config.self) read.replies.set(owner, state.store.get(message.key) ?? empty())
    else effects.messages.push([owner, { _tag: "Fetch", requestId: read.requestId, key: message.key }])
  }
  maybeAnswerRead(state, effects, read)
}

export const onFetchReply = (state: NodeState, effects: Effects, from: string, message: FetchReply): void => {
  const read = state.pending.get(message.requestId)
  // Another key's state merged into this read would be answered, and written back by read repair, as this key's.
  if (read === undefined || read._tag !== "Read" || !state.config.rules.replyMatches(read, message.key) || !read.owners.includes(from) || read.replies.has(from)) return
  read.replies.set(from, message.set)
  maybeAnswerRead(state, effects, read)
}

/**
 * Once R owners answered: the client gets the merge of their states (siblings and all), and read
 * repair sends that merge to each replier that lacks it, and later to late repliers.
 */
const maybeAnswerRead = (state: NodeState, effects: Effects, read: PendingRead): void => {
  if (!read.replied && read.replies.size >= state.config.r) {
    read.replied = true
    const merged = [...read.replies.values()].reduce((left, right) => sync(left, right), empty())
    const context = merged.context
    reply(effects, read.client, read.clientRequestId, { _tag: "Values", values: valuesOf(merged), context })
    read.repaired = state.config.rules.repairSet(merged)
  }
  const repaired = read.repaired
  if (repaired === undefined) return
  const digest = versionDigest(repaired)
  for (const [node, set] of read.replies) {
    if (versionDigest(set) === digest) continue
    read.replies.set(node, repaired)
    if (node === state.config.self) mergeKey(state, effects, read.key, repaired)
    else effects.messages.push([node, { _tag: "Repair", key: read.key, set: repaired }])
  }
  if (read.replies.size >= read.owners.length) state.pending.delete(read.requestId)
}

/**
 * Timeouts of a coordinator's requests. A replica that has not answered a copy in time is
 * suspected; under a sloppy quorum its copy goes to the next healthy node on the ring with a hint,
 * otherwise it is sent again. At the operation timeout the coordinator gives up: an unanswered
 * read fails, an unanswered write is left unknown to its client, and owners still without the
 * write get it from the coordinator's hints.
 */
export const tickRequests = (state: NodeState, effects: Effects, nowMs: number): void => {
  const { replicaTimeoutMs, operationTimeoutMs, suspectMs } = state.config
  for (const pending of [...state.pending.values()]) {
    if (nowMs - pending.startedMs >= operationTimeoutMs) {
      state.pending.delete(pending.requestId)
      if (pending._tag === "Read" && !pending.replied) {
        reply(effects, pending.client, pending.clientRequestId, { _tag: "Unavailable", reason: `${pending.replies.size} of ${state.config.r} replicas answered` })
      }
      continue
    }
    if (pending._tag === "Read") continue
    for (const [node, target] of [...pending.targets]) {
      if (target.acked || target.replaced || nowMs - target.sentMs < replicaTimeoutMs) continue
      state.suspects.set(node, nowMs + suspectMs)
      const standIn = state.config.sloppyQuorum ? nextStandIn(state, pending, nowMs) : undefined
      if (standIn === undefined) {
        sendCopy(state, effects, pending, node, target.owner, nowMs)
      } else {
        // A late answer from the replaced node still counts: its copy is as durable as the stand-in's.
        target.replaced = true
        sendCopy(state, effects, pending, standIn, target.owner, nowMs)
      }
    }
  }
}

/** The first healthy node past the owners on the key's ring walk that holds no copy of this write yet. */
const nextStandIn = (state: NodeState, write: PendingWrite, nowMs: number): string | undefined => {
  const walk = preferenceList(state.placement, write.key, state.placement.nodes.length)
  return walk.slice(state.config.n).find((node) => !write.targets.has(node) && healthy(state, node, nowMs))
}
