// A server passing client requests it cannot serve to the leader it knows, and relaying the
// leader's replies back, for clients that do not look for the leader themselves (pinned or random).
import { assert } from "./assert.ts"
import type { ClientReply, ClientRequest } from "./client-messages.ts"
import type { NodeId } from "./types.ts"

/** At most this many forwarded requests wait for the leader's reply; the oldest is forgotten first. */
export const FORWARDED_MAX = 1024

/** What a server's forwarding decides: where a request goes, and to whom a reply goes back. */
export interface Forwarding {
  /**
   * The leader to pass `request` (received from `client`) to, or undefined to handle it here: a
   * request that asks to be forwarded, on a server that does not lead but knows who does. The
   * forwarded copy does not ask again, so it is never passed on twice: a server that was wrongly
   * believed to lead answers NotLeader, and that answer goes back to the client.
   */
  readonly route: (
    client: string,
    request: ClientRequest,
    server: { readonly self: NodeId; readonly role: string; readonly leader: NodeId | null }
  ) => { readonly to: NodeId; readonly request: ClientRequest } | undefined
  /** The client a reply goes back to (once), or undefined for a reply to nothing forwarded here. */
  readonly relay: (reply: ClientReply) => string | undefined
}

/** Forwarding state of one server incarnation (it forgets what it forwarded when it crashes). */
export const makeForwarding = (): Forwarding => {
  const waiting = new Map<string, string>()
  return {
    route: (client, request, server) => {
      if (request.forward !== true || server.role === "Leader" || server.leader === null || server.leader === server.self) return undefined
      // A client that gave up on the oldest request has retried it by now; its reply can be dropped.
      if (waiting.size >= FORWARDED_MAX && !waiting.has(request.requestId)) waiting.delete(waiting.keys().next().value!)
      waiting.set(request.requestId, client)
      assert(waiting.size <= FORWARDED_MAX, `forwarding: ${waiting.size} requests wait, above ${FORWARDED_MAX}`)
      const { forward: _, ...forwarded } = request
      return { to: server.leader, request: forwarded }
    },
    relay: (reply) => {
      const client = waiting.get(reply.requestId)
      if (client !== undefined) waiting.delete(reply.requestId)
      return client
    }
  }
}
