// In-process delivery between real nodes of one process (a server and its HTTP endpoint's client sessions), without sockets.
import type { NodeId } from "../env/index.ts"

/** Hands a message to a member's mailbox. */
type Deliver = (from: NodeId, message: unknown, traceparent: string | undefined) => void

/**
 * Nodes of one process that join the same hub reach each other without a socket: no frame, no
 * checksum, no system call and no wake-up of the event loop per message. A node's HTTP endpoint
 * keeps its client sessions as nodes of their own (see src/cli/kv-client.ts); without the hub,
 * each request to the node that serves the endpoint crossed a loopback TCP connection twice,
 * inside one process. The receiver gets what a socket would give it, the value of the message's
 * JSON text (the sender makes it with `receivedCopy`), so nothing that cannot cross a wire reaches
 * a protocol. Delivery waits for the sender's current
 * burst of work to end (a microtask), as a socket's would, and keeps each sender's order. Nodes
 * that are not members are reached over the network as before, so a session still follows the
 * leader to another process. Members are trusted as the process itself is: they hold its secret.
 */
export class LocalHub {
  private readonly members = new Map<NodeId, Deliver>()

  /** Makes `id` reachable through the hub; returns what removes it (when its network closes). */
  join(id: NodeId, deliver: Deliver): () => void {
    if (this.members.has(id)) throw new Error(`local hub: ${id} joined twice`)
    this.members.set(id, deliver)
    return () => {
      if (this.members.get(id) === deliver) this.members.delete(id)
    }
  }

  /** Whether `id` is reachable through the hub. */
  has(id: NodeId): boolean {
    return this.members.has(id)
  }

  /** Delivers `received` (what decoding a message's JSON text gives) from `from` to the member `to`; false when `to` is not a member. */
  send(from: NodeId, to: NodeId, received: unknown, traceparent?: string): boolean {
    const deliver = this.members.get(to)
    if (deliver === undefined) return false
    queueMicrotask(() => {
      // A member that left meanwhile (its node stopped) loses the message, as a closed socket would.
      if (this.members.get(to) === deliver) deliver(from, received, traceparent)
    })
    return true
  }
}
