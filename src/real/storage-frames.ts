// How a real node's storage files are laid out on disk: a marker, then each synced change as a frame with its length and a checksum, so that a file can be preallocated and its end still found.
import { crc32 } from "node:zlib"

/**
 * The first bytes of a framed file: a NUL, "FLSTOR" and the layout's version. A file that does
 * not start with them was written before frames (every byte of it is content); no text a
 * protocol stores starts with a NUL, and a binary file that happened to would be misread, so the
 * marker is eight bytes.
 */
export const FRAMED_MARKER: Uint8Array = Uint8Array.of(0x00, 0x46, 0x4c, 0x53, 0x54, 0x4f, 0x52, 0x01)

/**
 * A frame's header, three little-endian u32s: the payload's length, the length's complement, and
 * the checksum. The complement tells a damaged length from a frame cut short: a length that was
 * damaged would otherwise point past the frames after it, into preallocated zeros, and make them
 * look like a write that never finished.
 */
export const FRAME_HEADER_BYTES = 12

/** Where a file's checksums start: each frame's chains from the one before it, the first's from the marker. */
export const FIRST_CHECKSUM: number = crc32(FRAMED_MARKER)

/**
 * The checksum of a frame: CRC-32 over its length and payload, starting from the previous frame's
 * checksum. Chained, a frame copied from elsewhere in the file (or left from an earlier write at
 * the same place) does not check where it now stands.
 */
const frameChecksum = (payload: Uint8Array, previous: number): number => {
  const length = Buffer.allocUnsafe(4)
  length.writeUInt32LE(payload.length, 0)
  return crc32(payload, crc32(length, previous))
}

/** One frame ready to be written, and the checksum the next frame chains from. */
export interface EncodedFrame {
  readonly bytes: Buffer
  readonly checksum: number
}

/** A frame holding `payload` (never empty: a zero header marks the end), chained from `previous`. */
export const encodeFrame = (payload: Uint8Array, previous: number): EncodedFrame => {
  if (payload.length === 0 || payload.length > 0xffff_ffff) throw new Error(`storage: a frame of ${payload.length} bytes`)
  const checksum = frameChecksum(payload, previous)
  const bytes = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  bytes.writeUInt32LE(payload.length, 0)
  bytes.writeUInt32LE(~payload.length >>> 0, 4)
  bytes.writeUInt32LE(checksum, 8)
  bytes.set(payload, FRAME_HEADER_BYTES)
  return { bytes, checksum }
}

/** A whole framed file holding `content`: the marker, then one frame (none for empty content). */
export const encodeFramedFile = (content: Uint8Array): { readonly bytes: Buffer; readonly checksum: number } => {
  if (content.length === 0) return { bytes: Buffer.from(FRAMED_MARKER), checksum: FIRST_CHECKSUM }
  const frame = encodeFrame(content, FIRST_CHECKSUM)
  return { bytes: Buffer.concat([FRAMED_MARKER, frame.bytes]), checksum: frame.checksum }
}

/** Whether `bytes` (a file's start, or all of it) is in the framed layout. */
export const isFramed = (bytes: Uint8Array): boolean => {
  if (bytes.length < FRAMED_MARKER.length) return false
  for (let index = 0; index < FRAMED_MARKER.length; index++) if (bytes[index] !== FRAMED_MARKER[index]) return false
  return true
}

const ZEROS = new Uint8Array(64 * 1024)

/** Whether every byte of `bytes` from `start` on is zero: preallocated space, never written. */
const zeroFrom = (bytes: Uint8Array, start: number): boolean => {
  for (let offset = start; offset < bytes.length; offset += ZEROS.length) {
    const end = Math.min(bytes.length, offset + ZEROS.length)
    if (Buffer.compare(bytes.subarray(offset, end), ZEROS.subarray(0, end - offset)) !== 0) return false
  }
  return true
}

/** What a framed file holds. */
export type FramedFile =
  | {
    readonly _tag: "Read"
    /** The payloads of the frames that check, in order: the file's synced content. */
    readonly content: Uint8Array
    /** Where the next frame goes: just past the last frame that checks. */
    readonly end: number
    /** The last frame's checksum, which the next frame chains from. */
    readonly checksum: number
    /**
     * Whether bytes that are not zero lie past `end`: a last write that did not finish (a crash
     * mid-write), to be cut before anything is written there.
     */
    readonly torn: boolean
  }
  /** A frame that does not check with more data after it: not a write cut short, but damage. */
  | { readonly _tag: "Damaged"; readonly offset: number; readonly reason: string }

/**
 * Reads a framed file: frames in order until a zero header (preallocated space), the end of the
 * file, or a frame that does not check. A frame that does not check is the last write cut short
 * by a crash when nothing but zeros follows it: it is not content (its write never returned, so
 * nothing in it was acknowledged). With more data after it, the file was damaged, and reading on
 * would lose what a peer or a client was told is stored: that is `Damaged`. Damage to the last
 * frame itself looks like a write cut short and reads as one; nothing can tell the two apart.
 */
export const readFramedFile = (bytes: Uint8Array): FramedFile => {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const payloads: Array<Uint8Array> = []
  let contentLength = 0
  let offset = FRAMED_MARKER.length
  let checksum = FIRST_CHECKSUM
  while (offset + FRAME_HEADER_BYTES <= view.length) {
    const length = view.readUInt32LE(offset)
    const complement = view.readUInt32LE(offset + 4)
    const stored = view.readUInt32LE(offset + 8)
    if (length === 0 && complement === 0 && stored === 0) break
    const problem = complement !== (~length >>> 0)
      ? "its length does not match its complement"
      : length === 0 || length > view.length - offset - FRAME_HEADER_BYTES
      ? `its length (${length}) does not fit the file`
      : undefined
    const payload = problem === undefined ? view.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length) : undefined
    if (payload === undefined || frameChecksum(payload, checksum) !== stored) {
      // A length that matches its complement can be trusted to say where the frame ends (past the
      // end of the file, for a file cut short); one that does not says nothing past the header.
      const lengthTrusted = complement === (~length >>> 0)
      if (zeroFrom(view, offset + FRAME_HEADER_BYTES + (lengthTrusted ? length : 0))) break
      return { _tag: "Damaged", offset, reason: `the synced change at byte ${offset} is damaged (${problem ?? "its checksum does not match"}) and more data follows it` }
    }
    payloads.push(payload)
    contentLength += length
    checksum = stored
    offset += FRAME_HEADER_BYTES + length
  }
  const content = new Uint8Array(contentLength)
  let at = 0
  for (const payload of payloads) {
    content.set(payload, at)
    at += payload.length
  }
  return { _tag: "Read", content, end: offset, checksum, torn: !zeroFrom(view, offset) }
}
