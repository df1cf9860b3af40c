// One TCP connection between real nodes: frames in and out, the handshake, and closing with a reason on any bad input.
import type { Socket } from "node:net"
import type { NodeId } from "../env/index.ts"
import {
  decodeMessagePayload,
  describeDecodeError,
  encodeFrame,
  FrameDecoder,
  FrameKind,
  openTracedMessage
} from "./frame.ts"
import {
  computeProof,
  type HandshakeParties,
  makeNonce,
  parseChallenge,
  parseHello,
  parseProof,
  verifyProof
} from "./handshake.ts"

/** Which end of the connection this node is: the one that dialed, or the one that accepted. */
export type ConnectionRole = "dialer" | "listener"

/** How a connection ended: refused (bad input or a failed proof), or lost (the socket closed or failed). */
export interface ConnectionEnd {
  readonly _tag: "Refused" | "Lost"
  readonly reason: string
}

/** What a connection needs from the node that owns it. */
export interface ConnectionOptions {
  readonly socket: Socket
  readonly role: ConnectionRole
  readonly self: NodeId
  /** For a dialer: the node it meant to reach; a listener that names itself otherwise is refused. */
  readonly expectedPeer?: NodeId | undefined
  /** The remote address for logs, when the caller knows it better than the socket does yet (a dialer). */
  readonly address?: string | undefined
  readonly secret: Uint8Array
  readonly maxPayloadBytes: number
  readonly handshakeTimeoutMs: number
  /** Whether a listener accepts a dialer of this id (it refuses its own id, for one). */
  readonly acceptPeer?: ((peer: NodeId) => string | undefined) | undefined
  /** Called once, when both ends have proved they hold the secret. */
  readonly onOpen: (connection: Connection) => void
  readonly onMessage: (connection: Connection, message: unknown, traceparent: string | undefined) => void
  /** Called once, when the connection ends for any reason (after onOpen or instead of it). */
  readonly onEnd: (connection: Connection, end: ConnectionEnd) => void
}

/** The largest frame payload accepted before the handshake completes: handshake frames are about 200 bytes. */
export const HANDSHAKE_PAYLOAD_BYTES_MAX = 1024

type HandshakeState =
  | { readonly _tag: "AwaitHello" }
  | { readonly _tag: "AwaitChallenge"; readonly dialerNonce: string }
  | { readonly _tag: "AwaitProof"; readonly parties: HandshakeParties }
  | { readonly _tag: "Open" }
  | { readonly _tag: "Ended" }

const jsonPayload = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), "utf8")

/**
 * A connection. It decodes frames as they arrive, runs the handshake for its role, then hands each
 * message to `onMessage`. Bad input of any kind (a frame the decoder refuses, a payload that is not
 * what the handshake step expects, a failed proof, a message before the handshake ends, a
 * handshake that takes too long) ends the connection with a `Refused` reason; nothing is thrown.
 */
export class Connection {
  /** The authenticated peer, once the handshake names it (before it completes, the claimed id). */
  peer: NodeId | undefined
  /** The remote address as `host:port`, for logs. */
  readonly address: string
  private state: HandshakeState
  private readonly decoder: FrameDecoder
  private readonly handshakeTimer: ReturnType<typeof setTimeout>

  constructor(private readonly options: ConnectionOptions) {
    const socket = options.socket
    this.address = options.address ?? `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`
    this.peer = options.expectedPeer
    // Until the peer proves it holds the secret, it may only send small handshake frames, so a
    // stranger cannot make this node buffer megabytes per connection.
    this.decoder = new FrameDecoder(Math.min(HANDSHAKE_PAYLOAD_BYTES_MAX, options.maxPayloadBytes))
    socket.setNoDelay(true)
    this.handshakeTimer = setTimeout(
      () => this.end({ _tag: "Refused", reason: `handshake not finished within ${options.handshakeTimeoutMs} ms` }),
      options.handshakeTimeoutMs
    )
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("error", (error) => this.end({ _tag: "Lost", reason: error.message }))
    socket.on("close", () => this.end({ _tag: "Lost", reason: "connection closed by peer" }))
    if (options.role === "dialer") {
      const dialerNonce = makeNonce()
      this.state = { _tag: "AwaitChallenge", dialerNonce }
      this.send(FrameKind.Hello, jsonPayload({ node: options.self, nonce: dialerNonce }))
    } else {
      this.state = { _tag: "AwaitHello" }
    }
  }

  /** Whether the handshake is done and the connection still up: messages may be written. */
  get isOpen(): boolean {
    return this.state._tag === "Open"
  }

  /** Whether the socket's buffer is full; the writer should wait for {@link onDrain}. */
  get needsDrain(): boolean {
    return this.options.socket.writableNeedDrain
  }

  /** Calls `callback` once the socket's buffer has drained. */
  onDrain(callback: () => void): void {
    this.options.socket.once("drain", callback)
  }

  /** Writes encoded frames (already checked for size); returns false when the socket's buffer is full. */
  write(frames: Buffer): boolean {
    if (this.state._tag !== "Open") return false
    return this.options.socket.write(frames)
  }

  /** Ends the connection; `onEnd` is called with `end` unless it already ended. */
  end(end: ConnectionEnd): void {
    if (this.state._tag === "Ended") return
    this.state = { _tag: "Ended" }
    clearTimeout(this.handshakeTimer)
    this.options.socket.destroy()
    this.options.onEnd(this, end)
  }

  private send(kind: FrameKind, payload: Buffer): void {
    this.options.socket.write(encodeFrame(kind, payload, this.options.maxPayloadBytes))
  }

  private refuse(reason: string): void {
    this.end({ _tag: "Refused", reason })
  }

  private onData(chunk: Buffer): void {
    this.decoder.append(chunk)
    // One frame at a time: the handshake's end raises the size limit for the frames after it.
    for (let result = this.decoder.next(); result !== undefined; result = this.decoder.next()) {
      if (this.state._tag === "Ended") return
      if (result._tag !== "Frame") return this.refuse(describeDecodeError(result))
      const decoded = decodeMessagePayload(result.payload)
      if (decoded._tag === "Malformed") return this.refuse(decoded.reason)
      this.onFrame(result.kind, decoded.message)
    }
  }

  private onTracedMessage(value: unknown): void {
    const opened = openTracedMessage(value)
    if (opened === undefined) return this.refuse("a traced message frame without a message")
    this.options.onMessage(this, opened.message, opened.traceparent)
  }

  private onFrame(kind: FrameKind, value: unknown): void {
    const state = this.state
    switch (state._tag) {
      case "AwaitHello":
        return kind === FrameKind.Hello ? this.onHello(value) : this.refuse(`expected a hello, got frame kind ${kind}`)
      case "AwaitChallenge":
        return kind === FrameKind.Challenge
          ? this.onChallenge(state.dialerNonce, value)
          : this.refuse(`expected a challenge, got frame kind ${kind}`)
      case "AwaitProof":
        return kind === FrameKind.Proof ? this.onProof(state.parties, value) : this.refuse(`expected a proof, got frame kind ${kind}`)
      case "Open":
        return kind === FrameKind.Message
          ? this.options.onMessage(this, value, undefined)
          : kind === FrameKind.TracedMessage
          ? this.onTracedMessage(value)
          : this.refuse(`handshake frame kind ${kind} after the handshake`)
      case "Ended":
        return
      default: {
        const unreachable: never = state
        throw new Error(`unknown handshake state ${JSON.stringify(unreachable)}`)
      }
    }
  }

  private onHello(value: unknown): void {
    const hello = parseHello(value)
    if (typeof hello === "string") return this.refuse(hello)
    this.peer = hello.node
    const refusal = hello.node === this.options.self ? "dialer claims this node's own id" : this.options.acceptPeer?.(hello.node)
    if (refusal !== undefined) return this.refuse(refusal)
    const parties = { dialer: hello.node, listener: this.options.self, dialerNonce: hello.nonce, listenerNonce: makeNonce() }
    this.state = { _tag: "AwaitProof", parties }
    const proof = computeProof(this.options.secret, "listener", parties)
    this.send(FrameKind.Challenge, jsonPayload({ node: this.options.self, nonce: parties.listenerNonce, proof }))
  }

  private onChallenge(dialerNonce: string, value: unknown): void {
    const challenge = parseChallenge(value)
    if (typeof challenge === "string") return this.refuse(challenge)
    if (challenge.node !== this.options.expectedPeer) {
      return this.refuse(`dialed ${this.options.expectedPeer ?? "?"} but reached ${challenge.node}`)
    }
    const parties = { dialer: this.options.self, listener: challenge.node, dialerNonce, listenerNonce: challenge.nonce }
    if (!verifyProof(this.options.secret, "listener", parties, challenge.proof)) {
      return this.refuse(`${challenge.node} does not prove it holds the cluster secret`)
    }
    this.send(FrameKind.Proof, jsonPayload({ proof: computeProof(this.options.secret, "dialer", parties) }))
    this.open()
  }

  private onProof(parties: HandshakeParties, value: unknown): void {
    const proof = parseProof(value)
    if (typeof proof === "string") return this.refuse(proof)
    if (!verifyProof(this.options.secret, "dialer", parties, proof.proof)) {
      return this.refuse(`${parties.dialer} does not prove it holds the cluster secret`)
    }
    this.open()
  }

  private open(): void {
    clearTimeout(this.handshakeTimer)
    this.decoder.setMaxPayloadBytes(this.options.maxPayloadBytes)
    this.state = { _tag: "Open" }
    this.options.onOpen(this)
  }
}
