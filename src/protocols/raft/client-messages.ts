// The messages between key-value clients and Raft servers. Plain JSON: they cross the wire through the codec.
import type { JsonValue, KvOperation, NodeId } from "./types.ts"

/** A client's request. `clientId` and `sequence` make a retried write apply exactly once. */
export interface ClientRequest {
  readonly _tag: "ClientRequest"
  /** Unique per attempt, so a late reply to an earlier attempt is recognised and ignored. */
  readonly requestId: string
  readonly clientId: string
  readonly sequence: number
  readonly operation: KvOperation
  /**
   * Set by clients that do not look for the leader themselves (pinned to one server, or sent to
   * any): a server that does not lead passes the request to the leader it knows and relays the
   * reply, as an etcd member forwards proposals. Left out, a follower answers NotLeader.
   */
  readonly forward?: boolean | undefined
}

/** What a server answers. `Retry` means the outcome is not known here (leadership changed): try again. */
export type ClientOutcome =
  | { readonly _tag: "Value"; readonly value: JsonValue | null }
  | { readonly _tag: "Ok" }
  | { readonly _tag: "CasResult"; readonly ok: boolean; readonly current: JsonValue | null }
  | { readonly _tag: "NotLeader"; readonly leaderHint: NodeId | null }
  | { readonly _tag: "Retry"; readonly reason: string }

export interface ClientReply {
  readonly _tag: "ClientReply"
  readonly requestId: string
  readonly outcome: ClientOutcome
}

export const isClientRequest = (value: unknown): value is ClientRequest =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "ClientRequest"

export const isClientReply = (value: unknown): value is ClientReply =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "ClientReply"

/** An operator's request: a membership change or a leadership transfer. */
export type AdminAction =
  | { readonly _tag: "AddNode"; readonly node: NodeId }
  | { readonly _tag: "RemoveNode"; readonly node: NodeId }
  | { readonly _tag: "TransferLeadership"; readonly target: NodeId }

export interface AdminRequest {
  readonly _tag: "AdminRequest"
  readonly requestId: string
  readonly action: AdminAction
}

/** `Done` means the leader took it (appended the change, or started the transfer). */
export type AdminOutcome =
  | { readonly _tag: "Done" }
  | { readonly _tag: "NotLeader"; readonly leaderHint: NodeId | null }
  | { readonly _tag: "Rejected"; readonly reason: string }

export interface AdminReply {
  readonly _tag: "AdminReply"
  readonly requestId: string
  readonly outcome: AdminOutcome
}

export const isAdminRequest = (value: unknown): value is AdminRequest =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "AdminRequest"

export const isAdminReply = (value: unknown): value is AdminReply =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "AdminReply"

export { awaitReply } from "../kv/await-reply.ts"
