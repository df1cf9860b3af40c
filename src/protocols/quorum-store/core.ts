// The quorum store's one entry for the shell: a received message or a tick in, what to persist,
// trace and send out. Synchronous and deterministic; the shell only waits, persists and sends.
import { antiEntropyRound, onTreeReply, onTreeRequest } from "./anti-entropy.ts"
import { onFetchReply, onGet, onPut, onReplicateAck, tickRequests } from "./coordinator.ts"
import { onMembership, recoverMembership } from "./membership.ts"
import { asMessage, type KeyState, type Message } from "./messages.ts"
import { handoffRound, mergeKey, onFetch, onHandoff, onHandoffAck, onRepair, onReplicate, onSyncPush, ownersOf } from "./replica.ts"
import {
  type Effects,
  emptyEffects,
  INCARNATION_FILE,
  type IncarnationFile,
  type MembershipFile,
  type NodeState,
  storeEvent,
  storeFile,
  type StoreFile
} from "./state.ts"

type Handler<M extends Message> = (state: NodeState, effects: Effects, from: string, message: M, nowMs: number) => void

/**
 * What each message does. A mapped type over the union's tags, so a new message that is given no
 * handler fails to compile, as an exhaustive switch would.
 */
const handlers: { readonly [Tag in Message["_tag"]]: Handler<Extract<Message, { _tag: Tag }>> } = {
  Get: onGet,
  Put: onPut,
  Replicate: onReplicate,
  ReplicateAck: onReplicateAck,
  Fetch: onFetch,
  FetchReply: onFetchReply,
  Repair: (state, effects, _from, message) => onRepair(state, effects, message),
  Handoff: onHandoff,
  HandoffAck: onHandoffAck,
  TreeRequest: onTreeRequest,
  TreeReply: onTreeReply,
  SyncPush: (state, effects, _from, message) => onSyncPush(state, effects, message),
  Membership: (state, effects, _from, message) => onMembership(state, effects, message),
  // Replies go to clients; a node that gets one (a misdirected message) ignores it.
  Reply: () => undefined
}

/** Takes in one message from `from`. Anything heard from a node clears its suspicion. */
export const receive = (state: NodeState, from: string, raw: unknown, nowMs: number): Effects => {
  const effects = emptyEffects()
  const message = asMessage(raw)
  if (message === undefined) return effects
  state.suspects.delete(from)
  const handler = handlers[message._tag] as Handler<Message>
  handler(state, effects, from, message, nowMs)
  return effects
}

/** Time passes: request timeouts, and the handoff and anti-entropy rounds when they are due. */
export const tick = (state: NodeState, nowMs: number): Effects => {
  const effects = emptyEffects()
  tickRequests(state, effects, nowMs)
  if (nowMs >= state.nextHandoffMs) {
    state.nextHandoffMs = nowMs + state.config.handoffIntervalMs
    handoffRound(state, effects, nowMs)
  }
  if (state.config.antiEntropyIntervalMs > 0 && nowMs >= state.nextAntiEntropyMs) {
    state.nextAntiEntropyMs = nowMs + state.config.antiEntropyIntervalMs
    antiEntropyRound(state, effects)
  }
  return effects
}

/** What a node finds on disk after a restart: key states and hints, by key, and the membership it adopted last (none: the initial ring). */
export interface Recovered {
  readonly store: ReadonlyMap<string, StoreFile>
  readonly hints: ReadonlyMap<string, ReadonlyMap<string, KeyState>>
  /** Key to the request ids of the Puts this node answered last (its puts files); none: only the store files' own lists. */
  readonly puts?: ReadonlyMap<string, ReadonlyArray<string>> | undefined
  readonly membership?: MembershipFile | undefined
  /** The incarnation of the node's last start (none: it never started). */
  readonly incarnation?: number | undefined
}

/**
 * Starts the next incarnation: its number is persisted with the rest of recovery's effects, so it is
 * synced before the node sends a request under it. A start that crashes before the sync sent nothing,
 * and the next start takes the same number.
 */
const nextIncarnation = (state: NodeState, effects: Effects, last: number | undefined): void => {
  state.incarnation = (last ?? 0) + 1
  const file: IncarnationFile = { incarnation: state.incarnation }
  effects.persist.set(INCARNATION_FILE, file as never)
}

/**
 * Restores the durable state, the membership first: ownership below is by the ring the node had
 * adopted, never the initial one it would otherwise go back to. A hint this node keeps for a key it
 * owns itself came from a write it coordinated, so it is merged into the store too: if the crash
 * kept the hint but lost the store's copy, the node would otherwise reuse the write's dot for
 * another write. Every key is traced as stored, so checkers see what the node holds after its restart.
 */
export const recover = (state: NodeState, recovered: Recovered): Effects => {
  const effects = emptyEffects()
  nextIncarnation(state, effects, recovered.incarnation)
  recoverMembership(state, recovered.membership)
  for (const [key, file] of recovered.store) {
    state.store.set(key, file.set)
    state.recentPuts.set(key, file.recentPuts)
  }
  // A puts file is written with every Put answered, so it holds the store file's list and more.
  for (const [key, recentPuts] of recovered.puts ?? []) state.recentPuts.set(key, recentPuts)
  for (const [key, hints] of recovered.hints) {
    state.hints.set(key, new Map(hints))
    if (!ownersOf(state, key).includes(state.config.self)) continue
    for (const set of hints.values()) mergeKey(state, effects, key, set)
  }
  for (const [key, set] of state.store) if (!effects.persist.has(storeFile(key))) effects.events.push(storeEvent(key, set))
  return effects
}
