// The quorum store's node state, configuration and what one step asks the shell to do. Plain data:
// the decision functions (replica.ts, coordinator.ts, core.ts) change it, the shell persists and sends.
import type { JsonValue } from "../../env/json.ts"
import type { Placement } from "../hashring/index.ts"
import { type SiblingSet, versionDigest } from "../quorum/index.ts"
import type { KeyState, Message, StoredValue } from "./messages.ts"

/**
 * Rules a planted-bug variant may replace; the defaults are the correct store. Each names the one
 * decision it governs, so a variant changes that decision and nothing else.
 */
export interface QuorumRules {
  /** The replicas a new write counts as durable when it starts: the coordinator's own copy (1). */
  readonly acksAtStart: (targets: number) => number
  /** What read repair writes back, given the merge of the replies. */
  readonly repairSet: (merged: KeyState) => KeyState
  /** Whether a hint's holder keeps the hint once it has sent it to the owner (until the owner acknowledges it). */
  readonly keepHintAfterSend: boolean
  /** The id of a coordinator's `sequence`-th request of its `incarnation`-th start: unique across restarts. */
  readonly requestId: (self: string, incarnation: number, sequence: number) => string
  /** Whether a replica's answer about `key` to the request `pending` counts for it. */
  readonly replyMatches: (pending: Pending, key: string) => boolean
}

export const defaultQuorumRules: QuorumRules = {
  acksAtStart: () => 1,
  repairSet: (merged) => merged,
  keepHintAfterSend: true,
  requestId: (self, incarnation, sequence) => `${self}:${incarnation}:${sequence}`,
  // The key is checked as well as the id: a state or acknowledgement counted for another key's
  // request would be answered (and written back by read repair) as that key's.
  replyMatches: (pending, key) => pending.key === key
}

/** How a node of the store behaves; the same on every node but `self`. */
export interface QuorumConfig {
  readonly self: string
  readonly placement: Placement
  /** Replicas per key (N), replies a read waits for (R), durable copies a write waits for (W). */
  readonly n: number
  readonly r: number
  readonly w: number
  /** Write to stand-ins with hints when owners do not answer (Dynamo's sloppy quorum). */
  readonly sloppyQuorum: boolean
  /** Keep one sibling per key, the newest by the coordinator's clock; concurrent writes are lost. */
  readonly lastWriterWins: boolean
  /** A replica that has not answered within this is suspected (not healthy) and replaced. */
  readonly replicaTimeoutMs: number
  /** A suspected node counts as unhealthy this long, unless it is heard from sooner. */
  readonly suspectMs: number
  /** A coordinator stops waiting for replicas after this; owners still missing the write keep a hint. */
  readonly operationTimeoutMs: number
  readonly handoffIntervalMs: number
  /** 0: no anti-entropy. */
  readonly antiEntropyIntervalMs: number
  readonly merkleDepth: number
  readonly rules: QuorumRules
}

/** A write the coordinator replicates: where each copy went and which answered. */
export interface PendingWrite {
  readonly _tag: "Write"
  readonly requestId: string
  readonly client: string
  /** The client's id of its request, for the answer; `requestId` is the coordinator's own, for the copies. */
  readonly clientRequestId: string
  readonly key: string
  readonly set: KeyState
  readonly startedMs: number
  /** Target node to the owner it stands in for (itself when an owner) and when it was asked. */
  readonly targets: Map<string, { readonly owner: string; readonly sentMs: number; acked: boolean; replaced: boolean }>
  acks: number
  replied: boolean
}

/** A read the coordinator gathers replies for. */
export interface PendingRead {
  readonly _tag: "Read"
  readonly requestId: string
  readonly client: string
  readonly clientRequestId: string
  readonly key: string
  readonly startedMs: number
  readonly owners: ReadonlyArray<string>
  readonly replies: Map<string, KeyState>
  replied: boolean
  /** The set read repair wrote, once the read answered. */
  repaired: KeyState | undefined
}

export type Pending = PendingWrite | PendingRead

/** A node's whole state. `store`, `hints` and the membership are durable (files); the rest is lost on a crash. */
export interface NodeState {
  readonly config: QuorumConfig
  /** The ring as this node knows it now: `config.placement` until a membership change arrives. */
  placement: Placement
  /** The membership change `placement` reflects (0: the initial one); durable, in {@link MEMBERSHIP_FILE}. */
  epoch: number
  /** Key to this replica's state of it. */
  readonly store: Map<string, KeyState>
  /**
   * Key to the client request ids of the last writes this node coordinated for it, kept with the
   * key on disk: the network may deliver a Put twice, and a second copy must not become a second write.
   */
  readonly recentPuts: Map<string, ReadonlyArray<string>>
  /** Key to owner to what this node keeps for that owner until it is handed back. */
  readonly hints: Map<string, Map<string, KeyState>>
  readonly pending: Map<string, Pending>
  /** Node to the time until which it is suspected. */
  readonly suspects: Map<string, number>
  /**
   * How many times this node has started, durable in {@link INCARNATION_FILE}. Request ids carry
   * it: a restart forgets its pending requests but not the replies still on the wire, and a reply
   * to an earlier incarnation must match none of this one's requests.
   */
  incarnation: number
  nextRequest: number
  nextHandoffMs: number
  nextAntiEntropyMs: number
  antiEntropyCursor: number
}

/** What a step asks of the shell, in this order: persist (and sync), trace, send. */
export interface Effects {
  /** Files to write (undefined: remove), each synced before anything is sent. */
  readonly persist: Map<string, JsonValue | undefined>
  readonly events: Array<readonly [string, Readonly<Record<string, unknown>>]>
  readonly messages: Array<readonly [string, Message]>
}

export const emptyEffects = (): Effects => ({ persist: new Map(), events: [], messages: [] })

export const initialState = (config: QuorumConfig): NodeState => ({
  config,
  placement: config.placement,
  epoch: 0,
  store: new Map(),
  recentPuts: new Map(),
  hints: new Map(),
  pending: new Map(),
  suspects: new Map(),
  incarnation: 0,
  nextRequest: 1,
  nextHandoffMs: 0,
  nextAntiEntropyMs: 0,
  antiEntropyCursor: 0
})

/** The file that holds a key's state, and the one that holds its hints. */
export const storeFile = (key: string): string => `store-${encodeURIComponent(key)}.json`
export const hintsFile = (key: string): string => `hints-${encodeURIComponent(key)}.json`

/**
 * The file that holds the request ids of the last Puts of `key` this node answered, taken or refused
 * (`NotOwner`). It is kept apart from the key's store file, which a node that lets the key go
 * removes and a node that does not own the key never writes: a copy of a Put the network delays or
 * duplicates may arrive after the node restarted, or once it has come to own the key, and must find
 * the Put already answered rather than become a second write of its value.
 */
export const putsFile = (key: string): string => `puts-${encodeURIComponent(key)}.json`

/** What a key's puts file holds. */
export interface PutsFile {
  readonly recentPuts: ReadonlyArray<string>
}

/**
 * The file that holds the membership this node adopted last. A restarted node that forgot it would
 * route and own by the initial ring again, and coordinate writes of keys it has already let go.
 */
export const MEMBERSHIP_FILE = "membership.json"

/** What the membership file holds: the epoch adopted last and the ring's nodes from it on. */
export interface MembershipFile {
  readonly epoch: number
  readonly nodes: ReadonlyArray<string>
}

/** The file that holds the node's incarnation: the number of its last start. */
export const INCARNATION_FILE = "incarnation.json"

/** What the incarnation file holds. */
export interface IncarnationFile {
  readonly incarnation: number
}

/** A new id for a coordinator's request, unique across this node's restarts. */
export const nextRequestId = (state: NodeState): string => state.config.rules.requestId(state.config.self, state.incarnation, state.nextRequest++)

/** How many client request ids per key a node remembers (taken or refused) to drop duplicated Puts. */
export const RECENT_PUTS_MAX = 256

/** What a key's store file holds. */
export interface StoreFile {
  readonly set: KeyState
  readonly recentPuts: ReadonlyArray<string>
}

/** A key's values in order, for traces and checkers. */
export const valuesOf = (set: SiblingSet<StoredValue>): Array<JsonValue> => set.siblings.map((sibling) => sibling.value.value)

/** The `store` event a checker reads: what this replica holds of `key` once it is durable. */
export const storeEvent = (key: string, set: KeyState): readonly [string, Record<string, unknown>] => [
  "store",
  { key, values: valuesOf(set), digest: versionDigest(set) }
]
