// The network as a node sees it: fire-and-forget sends to a node id, and one mailbox to receive from.
import { Context, type Effect } from "effect"
import type { TraceParent } from "./tracing.ts"

/** A node's name in the cluster, such as `"n1"`. Clients are nodes too (`"c1"`). */
export type NodeId = string

/** A message as it arrives: who sent it, the decoded body, and the sender's span context if it sent one. */
export interface Envelope {
  readonly from: NodeId
  readonly message: unknown
  /** The span the sender sent it in (only when spans are exported); not part of the message. */
  readonly traceparent?: TraceParent | undefined
}

/** A message to send: to whom, the body, and optionally the span it is sent in. */
export type Outgoing = readonly [to: NodeId, message: unknown] | readonly [to: NodeId, message: unknown, traceparent: TraceParent | undefined]

/**
 * The network service. Sends are fire-and-forget: a message may be lost, delayed, duplicated or
 * reordered, and the sender is never told. Every message is encoded with the wire codec on send and
 * decoded on receipt, so nodes never share memory, in the simulator or on real sockets.
 */
export class Network extends Context.Service<Network, {
  /** This node's own id. */
  readonly self: NodeId
  /** Every node of the cluster (servers, not clients), this one included, in a stable order. */
  readonly nodes: ReadonlyArray<NodeId>
  /** Sends a message (in the span `traceparent`, if given); never fails and never waits for the receiver. */
  readonly send: (to: NodeId, message: unknown, traceparent?: TraceParent) => Effect.Effect<void>
  /**
   * Sends each `[to, message, traceparent?]` in order, as one step: what etcd's Ready hands over at
   * once. The same as one `send` per item, for less work per message.
   */
  readonly sendAll: (messages: ReadonlyArray<Outgoing>) => Effect.Effect<void>
  /** Waits for the next message in this node's mailbox. Only one fiber of a node may wait at a time. */
  readonly receive: Effect.Effect<Envelope>
  /**
   * Waits for the next message, then takes every message already waiting behind it as well, up to
   * `max` in all, in order. A node that handles its input in batches (a Raft leader making one
   * Ready for many client writes) uses it; it is `receive` as often as there are messages.
   */
  readonly receiveAll: (max: number) => Effect.Effect<ReadonlyArray<Envelope>>
  /**
   * Waits for the next message for at most `durationMs` of this node's clock; `undefined` if none
   * came in time. A receive with a deadline, as a socket's read timeout gives, without racing fibers.
   */
  readonly receiveWithin: (durationMs: number) => Effect.Effect<Envelope | undefined>
}>()("faultline/Network") {}
