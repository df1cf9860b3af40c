// The Network service of a real node: TCP connections to peers, authenticated, with bounded queues and one bounded mailbox.
import { randomInt } from "node:crypto"
import { connect, createServer, type Server, type Socket } from "node:net"
import { Data, Effect, type Scope } from "effect"
import { decodeMessage, encodeMessage, Network, type NodeId, receivedCopy } from "../env/index.ts"
import { type Address, formatAddress, LOOPBACK_HOST } from "./address.ts"
import { Connection, type ConnectionEnd } from "./connection.ts"
import { DEFAULT_MAX_PAYLOAD_BYTES, encodeMessageFrame } from "./frame.ts"
import { isValidNodeId, SECRET_BYTES_MIN } from "./handshake.ts"
import { Link, type LinkCapacity } from "./link.ts"
import type { LocalHub } from "./local-hub.ts"
import { Mailbox } from "./mailbox.ts"

/** The network could not start (its address is taken, its configuration is invalid). */
export class NetworkError extends Data.TaggedError("NetworkError")<{
  readonly reason: string
}> {}

/** What a node's network logs: connections made, refused and lost. Each names the remote address. */
export type NetworkLogEntry =
  | { readonly _tag: "Connected"; readonly peer: NodeId; readonly address: string; readonly direction: Direction }
  | { readonly _tag: "Refused"; readonly peer: NodeId | undefined; readonly address: string; readonly direction: Direction; readonly reason: string }
  | { readonly _tag: "Lost"; readonly peer: NodeId | undefined; readonly address: string; readonly direction: Direction; readonly reason: string }

/** Whether this node dialed the connection (outbound) or accepted it (inbound). */
export type Direction = "outbound" | "inbound"

/** Configuration of a node's network. */
export interface RealNetworkConfig {
  /** This node's id, such as `"n1"` or, for a client, `"c1"`. */
  readonly self: NodeId
  /**
   * Where to accept connections; a client that only dials leaves it out. The host defaults to
   * loopback (127.0.0.1), so nothing outside the machine can connect unless asked; port 0 picks a free port.
   */
  readonly listen?: { readonly host?: string | undefined; readonly port: number } | undefined
  /** The servers this node sends to, by id (this node itself may be listed; it is skipped). */
  readonly peers: Readonly<Record<NodeId, Address>>
  /** The cluster secret every node and client holds (see handshake.ts); at least 16 bytes. */
  readonly secret: Uint8Array
  /** `Network.nodes`: default, the peers and (when it listens) this node, in natural order (n2 before n10). */
  readonly nodes?: ReadonlyArray<NodeId> | undefined
  /** Messages one destination's send queue may hold (default 4,096); more are dropped. */
  readonly sendQueueMessages?: number | undefined
  /** Bytes one destination's send queue may hold (default 16 MiB); more are dropped. */
  readonly sendQueueBytes?: number | undefined
  /** Messages the mailbox may hold (default 100,000, as in the simulator); more are dropped. */
  readonly mailboxCapacity?: number | undefined
  /** The largest message payload, in bytes (default 4 MiB); larger sends are dropped, larger frames refused. */
  readonly maxPayloadBytes?: number | undefined
  /** First reconnection delay (default 50 ms); it doubles per failed attempt up to `reconnectDelayMsMax`. */
  readonly reconnectDelayMsMin?: number | undefined
  /** Longest reconnection delay (default 2,000 ms). */
  readonly reconnectDelayMsMax?: number | undefined
  /** Inbound connections held at once, authenticated or not (default 1,024); more are refused. */
  readonly maxInboundConnections?: number | undefined
  /** How long a connection may take to authenticate before it is refused (default 5,000 ms). */
  readonly handshakeTimeoutMs?: number | undefined
  /** Where log entries go; default, one line each on stderr. */
  readonly log?: ((entry: NetworkLogEntry) => void) | undefined
  /** Nodes of this process to reach without sockets (see local-hub.ts); this node joins it while its network is up. */
  readonly localHub?: LocalHub | undefined
}

/** Counters of a node's network, for tests, logs and a status endpoint. */
export interface NetworkStats {
  /** Sends made, the dropped ones included. */
  sent: number
  /** Messages that arrived (from peers, clients and this node itself), the ones the full mailbox dropped included. */
  received: number
  /** Sends dropped because the destination's queue was full. */
  droppedQueueFull: number
  /** Sends dropped because the message encoded larger than `maxPayloadBytes`. */
  droppedOversized: number
  /** Sends to an id that is neither a peer nor a connected client. */
  droppedUnknownDestination: number
  /** Received messages dropped because the mailbox was full. */
  droppedMailboxFull: number
  /** Connections refused: bad frames, failed proofs, handshake timeouts. */
  connectionsRefused: number
}

/** A running network: the service, and what a host needs around it. */
export interface RealNetwork {
  readonly service: Network["Service"]
  /** The address it listens on (the actual port when 0 was asked), if it listens. */
  readonly address: Address | undefined
  readonly stats: Readonly<NetworkStats>
}

/** One line for a log entry, naming the node, the peer and its address. */
export const formatNetworkLogEntry = (self: NodeId, entry: NetworkLogEntry): string => {
  const who = `${entry.peer ?? "unknown peer"} at ${entry.address} (${entry.direction})`
  switch (entry._tag) {
    case "Connected":
      return `${self}: connected to ${who}`
    case "Refused":
      return `${self}: refused ${who}: ${entry.reason}`
    case "Lost":
      return `${self}: lost ${who}: ${entry.reason}`
    default: {
      const unreachable: never = entry
      throw new Error(`unknown log entry ${JSON.stringify(unreachable)}`)
    }
  }
}

const naturalOrder = (a: string, b: string): number => a.localeCompare(b, "en", { numeric: true })

/** A peer this node dials: its link, and the state of its reconnection. */
interface Outbound {
  readonly peer: NodeId
  readonly address: Address
  readonly link: Link
  connection: Connection | undefined
  failedAttempts: number
  retryTimer: ReturnType<typeof setTimeout> | undefined
}

const validate = (config: RealNetworkConfig): string | undefined => {
  if (!isValidNodeId(config.self)) return `node id ${JSON.stringify(config.self)} is not valid (letters, digits, _ . -; at most 64)`
  for (const peer of Object.keys(config.peers)) {
    if (!isValidNodeId(peer)) return `peer id ${JSON.stringify(peer)} is not valid`
  }
  if (config.secret.length < SECRET_BYTES_MIN) return `the cluster secret has ${config.secret.length} bytes; at least ${SECRET_BYTES_MIN} are needed`
  return undefined
}

/**
 * Starts a node's network: listens (when `listen` is given) and returns the Network service. Peers
 * are dialed when there is something to send to them, one outbound connection each, and redialed
 * after a failure with exponential backoff and full jitter. Inbound connections carry messages to
 * this node; one from an id that is not a peer (a client, `c1`) also carries this node's messages
 * back to it. Everything is closed when the scope closes.
 */
export const makeRealNetwork = (config: RealNetworkConfig): Effect.Effect<RealNetwork, NetworkError, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = validate(config)
    if (invalid !== undefined) return yield* Effect.fail(new NetworkError({ reason: invalid }))
    const network = new NetworkRuntime(config)
    const address = yield* Effect.acquireRelease(network.listen(), () => network.close())
    return { service: network.service(), address, stats: network.stats }
  })

/** The mechanism behind {@link makeRealNetwork}. */
class NetworkRuntime {
  readonly stats: NetworkStats = {
    sent: 0,
    received: 0,
    droppedQueueFull: 0,
    droppedOversized: 0,
    droppedUnknownDestination: 0,
    droppedMailboxFull: 0,
    connectionsRefused: 0
  }
  private readonly self: NodeId
  private readonly outbound = new Map<NodeId, Outbound>()
  private readonly clients = new Map<NodeId, { link: Link; connection: Connection }>()
  private readonly inbound = new Set<Connection>()
  private readonly mailbox: Mailbox
  private readonly capacity: LinkCapacity
  private readonly maxPayloadBytes: number
  private readonly log: (entry: NetworkLogEntry) => void
  private server: Server | undefined
  private closed = false
  private leaveHub: (() => void) | undefined

  constructor(private readonly config: RealNetworkConfig) {
    this.self = config.self
    this.mailbox = new Mailbox(config.mailboxCapacity ?? 100_000)
    this.capacity = { messages: config.sendQueueMessages ?? 4096, bytes: config.sendQueueBytes ?? 16 * 1024 * 1024 }
    this.maxPayloadBytes = config.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES
    this.log = config.log ?? ((entry) => process.stderr.write(formatNetworkLogEntry(config.self, entry) + "\n"))
    for (const [peer, address] of Object.entries(config.peers)) {
      if (peer === config.self) continue
      this.outbound.set(peer, { peer, address, link: new Link(this.capacity), connection: undefined, failedAttempts: 0, retryTimer: undefined })
    }
  }

  service(): Network["Service"] {
    const servers = this.config.nodes ?? [...new Set([...this.outbound.keys(), ...(this.config.listen === undefined ? [] : [this.self])])].sort(naturalOrder)
    return Network.of({
      self: this.self,
      nodes: servers,
      send: (to, message, traceparent) => Effect.sync(() => this.send(to, message, traceparent)),
      sendAll: (messages) =>
        Effect.sync(() => {
          for (const outgoing of messages) this.send(outgoing[0], outgoing[1], outgoing[2])
        }),
      receive: this.mailbox.receive,
      receiveAll: (max) => this.mailbox.receiveAll(max),
      receiveWithin: (durationMs) => this.mailbox.receiveWithin(durationMs)
    })
  }

  listen(): Effect.Effect<Address | undefined, NetworkError> {
    const hub = this.config.localHub
    if (hub !== undefined && this.leaveHub === undefined) {
      this.leaveHub = hub.join(this.self, (from, message, traceparent) => this.deliver(from, message, traceparent))
    }
    const asked = this.config.listen
    if (asked === undefined) return Effect.succeed(undefined)
    const listen: Address = { host: asked.host ?? LOOPBACK_HOST, port: asked.port }
    return Effect.callback<Address | undefined, NetworkError>((resume) => {
      const server = createServer((socket) => this.accept(socket))
      const onError = (error: Error) => {
        resume(Effect.fail(new NetworkError({ reason: `cannot listen on ${formatAddress(listen)}: ${error.message}` })))
      }
      server.once("error", onError)
      server.listen(listen.port, listen.host, () => {
        server.off("error", onError)
        // An error after listening (rare: the process ran out of file descriptors) is logged, not thrown.
        server.on("error", (error) => process.stderr.write(`${this.self}: listener error: ${error.message}\n`))
        this.server = server
        const bound = server.address()
        if (bound === null || typeof bound === "string") return resume(Effect.succeed(listen))
        resume(Effect.succeed({ host: listen.host, port: bound.port }))
      })
    })
  }

  /** Stops listening, closes every connection, cancels every timer and forgets every queued message. */
  close(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      this.closed = true
      this.leaveHub?.()
      for (const outbound of this.outbound.values()) {
        clearTimeout(outbound.retryTimer)
        outbound.link.clear()
        outbound.connection?.end({ _tag: "Lost", reason: "this node is shutting down" })
      }
      for (const connection of [...this.inbound]) connection.end({ _tag: "Lost", reason: "this node is shutting down" })
      this.mailbox.clear()
      const server = this.server
      if (server === undefined) return resume(Effect.void)
      server.close(() => resume(Effect.void))
    })
  }

  private send(to: NodeId, message: unknown, traceparent: string | undefined): void {
    if (this.closed) return
    this.stats.sent++
    if (to === this.self) {
      // A message to oneself still crosses the codec, so it is the copy a peer would get.
      this.deliver(this.self, decodeMessage(encodeMessage(message)), traceparent)
      return
    }
    const hub = this.config.localHub
    if (hub !== undefined && hub.has(to)) {
      const text = encodeMessage(message)
      // The same limit as a frame's, so a message a socket would refuse is not delivered here either.
      if (text.length * 3 > this.maxPayloadBytes && Buffer.byteLength(text) > this.maxPayloadBytes) this.stats.droppedOversized++
      // The receiver's copy is made now, before the sender can change the message; short plain
      // data is copied rather than parsed, in about a third of the time (a leader with 64
      // clients spent 4% of its time parsing its HTTP sessions' messages).
      else hub.send(this.self, to, receivedCopy(message, text), traceparent)
      return
    }
    const outbound = this.outbound.get(to)
    const link = outbound?.link ?? this.clients.get(to)?.link
    if (link === undefined) {
      this.stats.droppedUnknownDestination++
      return
    }
    const frame = encodeMessageFrame(message, this.maxPayloadBytes, traceparent)
    if (frame === undefined) {
      this.stats.droppedOversized++
      return
    }
    if (!link.enqueue(frame)) this.stats.droppedQueueFull++
    if (outbound !== undefined) this.dial(outbound)
  }

  private deliver(from: NodeId, message: unknown, traceparent: string | undefined): void {
    this.stats.received++
    if (!this.mailbox.offer({ from, message, traceparent })) this.stats.droppedMailboxFull++
  }

  /** Dials `outbound` unless it is connected, dialing, or waiting to retry. */
  private dial(outbound: Outbound): void {
    if (this.closed || outbound.connection !== undefined || outbound.retryTimer !== undefined) return
    const socket = connect({ host: outbound.address.host, port: outbound.address.port })
    outbound.connection = this.connection(socket, "outbound", outbound.peer, formatAddress(outbound.address), {
      onOpen: (connection) => {
        outbound.failedAttempts = 0
        outbound.link.attach(connection)
      },
      onEnd: (connection, end, wasOpen) => {
        outbound.link.detach(connection)
        outbound.connection = undefined
        if (!wasOpen) outbound.failedAttempts++
        // Only a failure streak's first attempt is logged; a peer that is down would flood the log.
        const quiet = !wasOpen && end._tag === "Lost" && outbound.failedAttempts > 1
        this.scheduleRetry(outbound)
        return quiet
      }
    })
  }

  private scheduleRetry(outbound: Outbound): void {
    if (this.closed || outbound.link.queued === 0) return
    const minimum = this.config.reconnectDelayMsMin ?? 50
    const maximum = this.config.reconnectDelayMsMax ?? 2000
    const ceiling = Math.min(maximum, minimum * 2 ** Math.min(outbound.failedAttempts, 20))
    // Full jitter: nodes that lost a peer at the same moment do not all redial at the same moment.
    const delayMs = outbound.failedAttempts === 0 ? 0 : Math.floor(ceiling / 2) + randomInt(Math.ceil(ceiling / 2) + 1)
    outbound.retryTimer = setTimeout(() => {
      outbound.retryTimer = undefined
      this.dial(outbound)
    }, delayMs)
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy()
      return
    }
    const maximum = this.config.maxInboundConnections ?? 1024
    if (this.inbound.size >= maximum) {
      // Bounded, so a flood of connections that never finish their handshake cannot exhaust the node.
      this.stats.connectionsRefused++
      const address = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`
      socket.destroy()
      this.log({ _tag: "Refused", peer: undefined, address, direction: "inbound", reason: `already ${maximum} inbound connections` })
      return
    }
    const connection = this.connection(socket, "inbound", undefined, undefined, {
      onOpen: (opened) => {
        const peer = opened.peer!
        if (this.outbound.has(peer)) return
        // A client (or a server not among the peers): its replies go back over this connection.
        const previous = this.clients.get(peer)
        const link = previous?.link ?? new Link(this.capacity)
        this.clients.set(peer, { link, connection: opened })
        link.attach(opened)
        previous?.connection.end({ _tag: "Lost", reason: "replaced by a newer connection from the same id" })
      },
      onEnd: (ended) => {
        this.inbound.delete(ended)
        const client = ended.peer === undefined ? undefined : this.clients.get(ended.peer)
        if (client?.connection === ended) {
          client.link.clear()
          this.clients.delete(ended.peer!)
        }
        return false
      }
    })
    this.inbound.add(connection)
  }

  private connection(
    socket: Socket,
    direction: Direction,
    expectedPeer: NodeId | undefined,
    address: string | undefined,
    handlers: {
      readonly onOpen: (connection: Connection) => void
      /** Returns whether the end should go unlogged. */
      readonly onEnd: (connection: Connection, end: ConnectionEnd, wasOpen: boolean) => boolean
    }
  ): Connection {
    let wasOpen = false
    return new Connection({
      socket,
      role: direction === "outbound" ? "dialer" : "listener",
      self: this.self,
      expectedPeer,
      address,
      secret: this.config.secret,
      maxPayloadBytes: this.maxPayloadBytes,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs ?? 5000,
      onOpen: (connection) => {
        wasOpen = true
        this.log({ _tag: "Connected", peer: connection.peer!, address: connection.address, direction })
        handlers.onOpen(connection)
      },
      onMessage: (connection, message, traceparent) => this.deliver(connection.peer!, message, traceparent),
      onEnd: (connection, end) => {
        if (end._tag === "Refused") this.stats.connectionsRefused++
        const quiet = handlers.onEnd(connection, end, wasOpen)
        if (!quiet && !this.closed) this.log({ _tag: end._tag, peer: connection.peer, address: connection.address, direction, reason: end.reason })
      }
    })
  }
}
