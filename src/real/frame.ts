// Wire framing for real nodes: length-prefixed, versioned, checksummed frames and an incremental decoder.
import { crc32 } from "node:zlib"
import { decodeMessage, encodeMessage } from "../env/index.ts"
import { parseTraceParent } from "../trace/index.ts"

/**
 * The layout of one frame, all integers big-endian:
 *
 * ```
 * offset 0  uint32  payload length in bytes (at most the decoder's maximum)
 * offset 4  uint8   wire version ({@link WIRE_VERSION})
 * offset 5  uint8   kind ({@link FrameKind})
 * offset 6  uint32  CRC32 of bytes 0..5 followed by the payload
 * offset 10 bytes   payload
 * ```
 *
 * Why CRC32 and not a per-frame HMAC: the peer is authenticated once, by the HMAC handshake
 * (handshake.ts), and the checksum only has to catch accidents: a bug in framing, a stream that
 * lost its place, a peer speaking another protocol. CRC32 detects every burst error of up to 32
 * bits and anything else with probability 1 - 2^-32, costs little (zlib's native implementation),
 * and covers the header too, so a corrupted length or kind is caught rather than trusted. Forging
 * frames inside an authenticated TCP stream would take an attacker who can already write to the
 * host's loopback connections, which a per-frame MAC would not stop on a machine we do not control.
 */
export const FRAME_HEADER_BYTES = 10

/** The wire version this build speaks; a frame of any other version is refused. */
export const WIRE_VERSION = 1

/** The default largest payload: 4 MiB, well above a Raft snapshot of a test workload. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024

/** What a frame carries. The first three are the handshake (see handshake.ts). */
export const FrameKind = {
  Hello: 1,
  Challenge: 2,
  Proof: 3,
  Message: 4,
  /** A message sent in a span: the payload is `{"traceparent": T, "message": M}` (see `encodeMessageFrame`). */
  TracedMessage: 5
} as const

/** A frame kind's number. */
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

const frameKinds: ReadonlySet<number> = new Set(Object.values(FrameKind))

/** What the decoder makes of the bytes it was given: a frame, or the reason the stream is unusable. */
export type DecodeResult =
  | { readonly _tag: "Frame"; readonly kind: FrameKind; readonly payload: Uint8Array }
  | { readonly _tag: "BadVersion"; readonly version: number }
  | { readonly _tag: "Oversized"; readonly length: number; readonly maxLength: number }
  | { readonly _tag: "BadChecksum"; readonly expected: number; readonly actual: number }
  | { readonly _tag: "Malformed"; readonly reason: string }

/** A decode result that is not a frame. */
export type DecodeError = Exclude<DecodeResult, { readonly _tag: "Frame" }>

/** One line describing a decode error, for logs. */
export const describeDecodeError = (error: DecodeError): string => {
  switch (error._tag) {
    case "BadVersion":
      return `bad wire version ${error.version} (this node speaks ${WIRE_VERSION})`
    case "Oversized":
      return `oversized frame: ${error.length} bytes, at most ${error.maxLength} allowed`
    case "BadChecksum":
      return `bad checksum: frame says ${error.expected}, content gives ${error.actual}`
    case "Malformed":
      return `malformed frame: ${error.reason}`
    default: {
      const unreachable: never = error
      throw new Error(`unknown decode error ${JSON.stringify(unreachable)}`)
    }
  }
}

const checksum = (header: Uint8Array, payload: Uint8Array): number =>
  crc32(payload, crc32(header.subarray(0, 6)))

/** Encodes one frame. The payload must fit `maxPayloadBytes`; callers check first (see {@link encodeMessageFrame}). */
export const encodeFrame = (
  kind: FrameKind,
  payload: Uint8Array,
  maxPayloadBytes: number = DEFAULT_MAX_PAYLOAD_BYTES
): Buffer => {
  if (!frameKinds.has(kind)) throw new Error(`encodeFrame: unknown kind ${kind}`)
  if (payload.length > maxPayloadBytes) {
    throw new Error(`encodeFrame: payload of ${payload.length} bytes exceeds ${maxPayloadBytes}`)
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  frame.writeUInt32BE(payload.length, 0)
  frame.writeUInt8(WIRE_VERSION, 4)
  frame.writeUInt8(kind, 5)
  frame.writeUInt32BE(checksum(frame, payload), 6)
  frame.set(payload, FRAME_HEADER_BYTES)
  return frame
}

/**
 * Encodes a protocol message as a Message frame, through the project's wire codec; `undefined` when
 * its encoding is larger than `maxPayloadBytes`, which a sender treats as a lost message. A message
 * sent in a span (`traceparent`) is a TracedMessage frame, its context beside the message in the
 * envelope: the message itself is the same bytes either way.
 */
export const encodeMessageFrame = (
  message: unknown,
  maxPayloadBytes: number = DEFAULT_MAX_PAYLOAD_BYTES,
  traceparent?: string
): Buffer | undefined => {
  const text = encodeMessage(message)
  const payload = Buffer.from(traceparent === undefined ? text : `{"traceparent":${JSON.stringify(traceparent)},"message":${text}}`, "utf8")
  if (payload.length > maxPayloadBytes) return undefined
  return encodeFrame(traceparent === undefined ? FrameKind.Message : FrameKind.TracedMessage, payload, maxPayloadBytes)
}

/**
 * The message and its span context from a TracedMessage frame's decoded payload; `undefined` when
 * the payload is not that envelope. A context that is not a valid traceparent is dropped, not
 * trusted: the message is delivered without one.
 */
export const openTracedMessage = (value: unknown): { readonly message: unknown; readonly traceparent: string | undefined } | undefined => {
  if (typeof value !== "object" || value === null || !("message" in value)) return undefined
  const traceparent = (value as { traceparent?: unknown }).traceparent
  return { message: value.message, traceparent: parseTraceParent(traceparent) === undefined ? undefined : (traceparent as string) }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/** Decodes a Message frame's payload with the wire codec; a payload that is not UTF-8 JSON is malformed. */
export const decodeMessagePayload = (
  payload: Uint8Array
): { readonly _tag: "Message"; readonly message: unknown } | { readonly _tag: "Malformed"; readonly reason: string } => {
  try {
    return { _tag: "Message", message: decodeMessage(strictUtf8.decode(payload)) }
  } catch (error) {
    return { _tag: "Malformed", reason: `message payload is not UTF-8 JSON (${(error as Error).message})` }
  }
}

/**
 * An incremental frame decoder for one byte stream. `push` takes whatever TCP delivered (a piece
 * of a frame, several frames, or both) and returns every frame completed by it, in order. The
 * first bad frame ends the stream: it is returned as the last result, and every later push returns
 * nothing, since a stream that lost its framing cannot be trusted again. It never throws on input.
 *
 * Memory is bounded: the decoder decodes at most one frame of header plus `maxPayloadBytes`, because
 * an oversized length is refused as soon as its header arrives, before any of its payload. (What
 * `append` is given beyond that waits, so a reader should decode as it appends, as `push` does.)
 */
export class FrameDecoder {
  private readonly chunks: Array<Buffer> = []
  private buffered = 0
  private failure: DecodeError | undefined

  constructor(private maxPayloadBytes: number = DEFAULT_MAX_PAYLOAD_BYTES) {
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 0) {
      throw new Error(`FrameDecoder: maxPayloadBytes must be a non-negative integer, got ${maxPayloadBytes}`)
    }
  }

  /** The error that ended the stream, if one did. */
  get error(): DecodeError | undefined {
    return this.failure
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.buffered
  }

  /** Adds bytes and returns every frame they complete, in order (the first bad frame ends the list). */
  push(chunk: Uint8Array): Array<DecodeResult> {
    this.append(chunk)
    const results: Array<DecodeResult> = []
    for (let result = this.next(); result !== undefined; result = this.next()) results.push(result)
    return results
  }

  /** Adds bytes without decoding them; {@link next} takes the frames out one at a time. */
  append(chunk: Uint8Array): void {
    if (this.failure !== undefined || chunk.length === 0) return
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length))
    this.buffered += chunk.length
  }

  /**
   * The next complete frame, the error that ends the stream, or `undefined` when more bytes are
   * needed (or the stream already ended). Pulling one frame at a time lets the caller change the
   * limit between frames, as a connection does when its handshake completes.
   */
  next(): DecodeResult | undefined {
    if (this.failure !== undefined || this.buffered < FRAME_HEADER_BYTES) return undefined
    const header = this.peek(FRAME_HEADER_BYTES)
    const length = header.readUInt32BE(0)
    const version = header.readUInt8(4)
    const kind = header.readUInt8(5)
    const error = this.checkHeader(length, version, kind)
    if (error !== undefined) return this.fail(error)
    if (this.buffered < FRAME_HEADER_BYTES + length) return undefined
    const frame = this.take(FRAME_HEADER_BYTES + length)
    const payload = frame.subarray(FRAME_HEADER_BYTES)
    const expected = frame.readUInt32BE(6)
    const actual = checksum(frame, payload)
    if (expected !== actual) return this.fail({ _tag: "BadChecksum", expected, actual })
    return { _tag: "Frame", kind: kind as FrameKind, payload }
  }

  /** Sets the largest payload accepted from the next frame on. */
  setMaxPayloadBytes(maxPayloadBytes: number): void {
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 0) {
      throw new Error(`FrameDecoder: maxPayloadBytes must be a non-negative integer, got ${maxPayloadBytes}`)
    }
    this.maxPayloadBytes = maxPayloadBytes
  }

  private checkHeader(length: number, version: number, kind: number): DecodeError | undefined {
    if (version !== WIRE_VERSION) return { _tag: "BadVersion", version }
    if (length > this.maxPayloadBytes) return { _tag: "Oversized", length, maxLength: this.maxPayloadBytes }
    if (!frameKinds.has(kind)) return { _tag: "Malformed", reason: `unknown frame kind ${kind}` }
    return undefined
  }

  private fail(error: DecodeError): DecodeError {
    this.failure = error
    this.chunks.length = 0
    this.buffered = 0
    return error
  }

  /** The first `count` buffered bytes, without consuming them (copies only when they span chunks). */
  private peek(count: number): Buffer {
    const first = this.chunks[0]!
    if (first.length >= count) return first.subarray(0, count)
    const merged = Buffer.concat(this.chunks, this.buffered)
    this.chunks.length = 0
    this.chunks.push(merged)
    return merged.subarray(0, count)
  }

  /** Removes and returns the first `count` buffered bytes as one buffer. */
  private take(count: number): Buffer {
    const first = this.chunks[0]!
    if (first.length < count) {
      const merged = Buffer.concat(this.chunks, this.buffered)
      this.chunks.length = 0
      this.chunks.push(merged)
    }
    const head = this.chunks[0]!
    const taken = head.subarray(0, count)
    if (head.length === count) this.chunks.shift()
    else this.chunks[0] = head.subarray(count)
    this.buffered -= count
    return taken
  }
}
