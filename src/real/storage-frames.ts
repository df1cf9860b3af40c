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

/**
 * Frames start at multiples of 16 bytes (zeros pad each to the next), so a header never straddles
 * two of the disk's 512-byte sectors: a power loss keeps or loses a header whole.
 */
export const FRAME_ALIGNMENT = 16

/** Where the first frame starts: the marker, padded. */
export const FIRST_FRAME_OFFSET = 16

const SECTOR_BYTES = 512

/** Where the checksums start: each frame's chains from the one before it, the first's from the marker. */
export const FIRST_CHECKSUM: number = crc32(FRAMED_MARKER)

/** `bytes` rounded up to a whole number of {@link FRAME_ALIGNMENT}s. */
export const aligned = (bytes: number): number => Math.ceil(bytes / FRAME_ALIGNMENT) * FRAME_ALIGNMENT

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

/** One frame ready to be written (padded), and the checksum the next frame chains from. */
export interface EncodedFrame {
  readonly bytes: Buffer
  readonly checksum: number
}

/** A frame holding `payload` (never empty: a zero header marks the end), chained from `previous`. */
export const encodeFrame = (payload: Uint8Array, previous: number): EncodedFrame => {
  if (payload.length === 0 || payload.length > 0xffff_ffff) throw new Error(`storage: a frame of ${payload.length} bytes`)
  const checksum = frameChecksum(payload, previous)
  const bytes = Buffer.alloc(aligned(FRAME_HEADER_BYTES + payload.length))
  bytes.writeUInt32LE(payload.length, 0)
  bytes.writeUInt32LE(~payload.length >>> 0, 4)
  bytes.writeUInt32LE(checksum, 8)
  bytes.set(payload, FRAME_HEADER_BYTES)
  return { bytes, checksum }
}

/** A whole framed file holding `content`: the marker, then one frame (none for empty content). */
export const encodeFramedFile = (content: Uint8Array): { readonly bytes: Buffer; readonly checksum: number } => {
  const marker = Buffer.alloc(FIRST_FRAME_OFFSET)
  marker.set(FRAMED_MARKER)
  if (content.length === 0) return { bytes: marker, checksum: FIRST_CHECKSUM }
  const frame = encodeFrame(content, FIRST_CHECKSUM)
  return { bytes: Buffer.concat([marker, frame.bytes]), checksum: frame.checksum }
}

/** How a file on disk is laid out, from its first bytes. */
export type Layout =
  | { readonly _tag: "Raw" }
  | { readonly _tag: "Framed" }
  | { readonly _tag: "Damaged"; readonly offset: number; readonly reason: string }

/**
 * A file's layout: framed when it starts with the marker, raw (written before frames) when its
 * start is nothing like it. A start one or two bytes off the marker is a damaged marker, and a
 * marker of another version is a layout this code does not know: reading either as raw content
 * would hand back headers and checksums as if they had been written.
 */
export const layoutOf = (bytes: Uint8Array): Layout => {
  const compared = Math.min(bytes.length, FRAMED_MARKER.length)
  let differences = FRAMED_MARKER.length - compared
  for (let index = 0; index < compared; index++) if (bytes[index] !== FRAMED_MARKER[index]) differences++
  if (differences === 0) return { _tag: "Framed" }
  const version = FRAMED_MARKER.length - 1
  if (bytes.length > version && differences === 1 && bytes[version] !== FRAMED_MARKER[version]) {
    return { _tag: "Damaged", offset: version, reason: `it is in storage layout version ${bytes[version]}, which this Faultline does not know` }
  }
  if (differences <= 2) return { _tag: "Damaged", offset: 0, reason: "its storage marker is damaged" }
  return { _tag: "Raw" }
}

const ZEROS = new Uint8Array(64 * 1024)

/** Whether every byte of `bytes` from `start` up to `end` is zero: preallocated space, never written. */
const zeroFrom = (bytes: Uint8Array, start: number, end = bytes.length): boolean => {
  for (let offset = start; offset < end; offset += ZEROS.length) {
    const stop = Math.min(end, offset + ZEROS.length)
    if (Buffer.compare(bytes.subarray(offset, stop), ZEROS.subarray(0, stop - offset)) !== 0) return false
  }
  return true
}

/** Whether a frame's header (a length that matches its complement and fits) stands at an aligned offset from `from` on. */
const headerAfter = (view: Buffer, from: number): boolean => {
  for (let offset = from; offset + FRAME_HEADER_BYTES <= view.length; offset += FRAME_ALIGNMENT) {
    const length = view.readUInt32LE(offset)
    if (length !== 0 && length <= view.length - offset - FRAME_HEADER_BYTES && view.readUInt32LE(offset + 4) === (~length >>> 0)) return true
  }
  return false
}

/**
 * Whether some sector's share of the bytes from `start` to `end` is all zeros, as a write cut
 * short leaves it: a power loss loses whole sectors (preallocated space reads as zeros), and a
 * kill -9 cuts a write at a page. A frame with no such share was written whole, then damaged.
 */
const hasEmptySector = (view: Buffer, start: number, end: number): boolean => {
  for (let sector = Math.floor(start / SECTOR_BYTES) * SECTOR_BYTES; sector < end; sector += SECTOR_BYTES) {
    if (zeroFrom(view, Math.max(sector, start), Math.min(sector + SECTOR_BYTES, end))) return true
  }
  return false
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
     * Whether bytes that are not zero lie past `end`: what is left of a last write that a crash
     * cut short, to be cut before anything is written there.
     */
    readonly torn: boolean
  }
  | { readonly _tag: "Damaged"; readonly offset: number; readonly reason: string }

/**
 * Reads a framed file (its layout already checked): frames in order until preallocated space, the
 * end of the file, or the last write, cut short by a crash. That write is not content: it never
 * returned, so nothing in it was acknowledged. What a write cut short cannot look like is damage,
 * and reading past it would lose what a peer or a client was told is stored, so it is `Damaged`:
 * a header that is not zeros and whose length does not match its complement, a frame that does not
 * check with data after it (a zero header included, when frames follow it), one that ends the file
 * (the writer extends a file before it writes a frame at its end), or one with no sector left empty.
 */
export const readFramedFile = (bytes: Uint8Array): FramedFile => {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const payloads: Array<Uint8Array> = []
  let contentLength = 0
  let offset = FIRST_FRAME_OFFSET
  let checksum = FIRST_CHECKSUM
  const damaged = (reason: string): FramedFile => ({ _tag: "Damaged", offset, reason: `the synced change at byte ${offset} is damaged (${reason})` })
  while (offset + FRAME_HEADER_BYTES <= view.length) {
    const length = view.readUInt32LE(offset)
    const complement = view.readUInt32LE(offset + 4)
    const stored = view.readUInt32LE(offset + 8)
    if (length === 0 && complement === 0 && stored === 0) {
      // Preallocated space, or the header of a last write whose sector a power loss lost.
      if (!zeroFrom(view, offset) && headerAfter(view, offset + FRAME_ALIGNMENT)) return damaged("its header is zeros and frames follow it")
      break
    }
    // A header is kept or lost whole (it never straddles a sector), and a lost one reads as zeros,
    // above: one that is not zeros and does not check was written whole and damaged since, even
    // when only zeros follow it (the last frame's payload may itself be zeros).
    if (length === 0 || complement !== (~length >>> 0)) return damaged("its length does not match its complement")
    const frameEnd = offset + FRAME_HEADER_BYTES + length
    // The file ends inside the frame: cut short.
    if (frameEnd > view.length) break
    const payload = view.subarray(offset + FRAME_HEADER_BYTES, frameEnd)
    if (frameChecksum(payload, checksum) !== stored) {
      const paddedEnd = offset + aligned(FRAME_HEADER_BYTES + length)
      if (paddedEnd >= view.length) return damaged("its checksum does not match, and it ends the file")
      if (!zeroFrom(view, paddedEnd)) return damaged("its checksum does not match, and more data follows it")
      if (!hasEmptySector(view, offset, frameEnd)) return damaged("its checksum does not match, and no sector of it is empty, as a write cut short would leave one")
      break
    }
    payloads.push(payload)
    contentLength += length
    checksum = stored
    offset += aligned(FRAME_HEADER_BYTES + length)
  }
  const content = new Uint8Array(contentLength)
  let at = 0
  for (const payload of payloads) {
    content.set(payload, at)
    at += payload.length
  }
  return { _tag: "Read", content, end: offset, checksum, torn: !zeroFrom(view, Math.min(offset, view.length)) }
}
