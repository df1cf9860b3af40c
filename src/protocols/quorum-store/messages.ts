// The quorum store's messages: between clients and coordinators, and between replicas. Plain JSON,
// since every message crosses the wire codec; sibling sets travel whole (context and siblings).
import type { JsonValue } from "../../env/json.ts"
import type { SiblingSet } from "../quorum/index.ts"
import type { VectorClock } from "../clocks/vector-clock.ts"

/** One stored value: what the client wrote, and the coordinator's clock when it did (for last-writer-wins). */
export interface StoredValue {
  readonly value: JsonValue
  readonly timestampMs: number
}

/** A replica's state of one key. */
export type KeyState = SiblingSet<StoredValue>

/** A client's read: any node coordinates it. */
export interface Get {
  readonly _tag: "Get"
  readonly requestId: string
  readonly key: string
}

/** A client's write of `value`, naming the causal `context` of the read it follows (`{}` for a blind write). */
export interface Put {
  readonly _tag: "Put"
  readonly requestId: string
  readonly key: string
  readonly value: JsonValue
  readonly context: VectorClock
}

/**
 * What a coordinator answers. `Values` carries the siblings and the context to name in a later
 * write; `NotOwner` and `Unavailable` mean nothing was done, so the client may try elsewhere.
 */
export type ClientOutcome =
  | { readonly _tag: "Values"; readonly values: ReadonlyArray<JsonValue>; readonly context: VectorClock }
  | { readonly _tag: "Written" }
  | { readonly _tag: "NotOwner"; readonly owners: ReadonlyArray<string> }
  | { readonly _tag: "Unavailable"; readonly reason: string }

export interface Reply {
  readonly _tag: "Reply"
  readonly requestId: string
  readonly outcome: ClientOutcome
}

/** A coordinator asks a replica to merge `set` and make it durable; `hintFor` names the owner a stand-in holds it for. */
export interface Replicate {
  readonly _tag: "Replicate"
  readonly requestId: string
  readonly key: string
  readonly set: KeyState
  readonly hintFor: string | null
}

/** The replica has `set` (of the request) on disk. */
export interface ReplicateAck {
  readonly _tag: "ReplicateAck"
  readonly requestId: string
  readonly key: string
}

export interface Fetch {
  readonly _tag: "Fetch"
  readonly requestId: string
  readonly key: string
}

export interface FetchReply {
  readonly _tag: "FetchReply"
  readonly requestId: string
  readonly key: string
  readonly set: KeyState
}

/** Read repair: merge `set` (no answer expected). */
export interface Repair {
  readonly _tag: "Repair"
  readonly key: string
  readonly set: KeyState
}

/** Hinted handoff: a hint's holder gives the owner back what it kept for it. */
export interface Handoff {
  readonly _tag: "Handoff"
  readonly key: string
  readonly set: KeyState
}

/** The owner has merged (and made durable) the hint whose version digest is `digest`. */
export interface HandoffAck {
  readonly _tag: "HandoffAck"
  readonly key: string
  readonly digest: number
}

/** Anti-entropy, first step: the Merkle tree (its heap of hashes) over the keys both replicas hold. */
export interface TreeRequest {
  readonly _tag: "TreeRequest"
  readonly hashes: ReadonlyArray<number>
}

/** Anti-entropy, second step: the receiver's states of the keys in differing leaves, and the leaves it wants. */
export interface TreeReply {
  readonly _tag: "TreeReply"
  readonly entries: ReadonlyArray<readonly [string, KeyState]>
  readonly leaves: ReadonlyArray<number>
}

/** Anti-entropy, last step (and range transfer on a membership change): states to merge. */
export interface SyncPush {
  readonly _tag: "SyncPush"
  readonly entries: ReadonlyArray<readonly [string, KeyState]>
}

/** An operator's membership change: the ring's nodes from `epoch` on. Newer epochs win. */
export interface Membership {
  readonly _tag: "Membership"
  readonly epoch: number
  readonly nodes: ReadonlyArray<string>
}

export type Message =
  | Get
  | Put
  | Reply
  | Replicate
  | ReplicateAck
  | Fetch
  | FetchReply
  | Repair
  | Handoff
  | HandoffAck
  | TreeRequest
  | TreeReply
  | SyncPush
  | Membership

const TAGS: ReadonlySet<string> = new Set([
  "Get",
  "Put",
  "Reply",
  "Replicate",
  "ReplicateAck",
  "Fetch",
  "FetchReply",
  "Repair",
  "Handoff",
  "HandoffAck",
  "TreeRequest",
  "TreeReply",
  "SyncPush",
  "Membership"
])

/** Narrows what arrived: a real network can deliver anything. */
export const asMessage = (value: unknown): Message | undefined =>
  typeof value === "object" && value !== null && TAGS.has(String((value as { _tag?: unknown })._tag)) ? (value as Message) : undefined

export const isReply = (value: unknown): value is Reply => asMessage(value)?._tag === "Reply"
