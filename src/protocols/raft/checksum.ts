// CRC-32 checksums and the checksummed line format of Raft's storage files, so that a damaged byte on disk is detected, not parsed.
import { decodeText, encodeText } from "../../env/index.ts"

/**
 * The CRC-32 of zlib, gzip and PNG (reflected polynomial 0xEDB88320), byte by byte from a
 * 256-entry table. It detects every burst of up to 32 bits (so every flipped byte) and every 2-bit
 * error in lines far longer than ours; a random change goes unnoticed with odds of 1 in 2^32.
 * It is not a defence against someone forging a line, only against disks and editors.
 */
const TABLE: Int32Array = (() => {
  const table = new Int32Array(256)
  for (let byte = 0; byte < 256; byte++) {
    let value = byte
    for (let bit = 0; bit < 8; bit++) value = value & 1 ? (value >>> 1) ^ 0xedb88320 : value >>> 1
    table[byte] = value
  }
  return table
})()

/**
 * Four tables for slicing-by-4: `SLICES[256 * k + byte]` is the CRC of `byte` followed by k zero
 * bytes, so a 32-bit word takes four independent lookups. The first 256 are TABLE.
 */
const SLICES: Int32Array = (() => {
  const slices = new Int32Array(4 * 256)
  slices.set(TABLE)
  for (let index = 256; index < slices.length; index++) {
    const previous = slices[index - 256]!
    slices[index] = (previous >>> 8) ^ TABLE[previous & 0xff]!
  }
  return slices
})()

/** Whether this machine stores the low byte of a word first, as slicing reads words. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * The CRC-32 of `bytes[start, end)`, as an unsigned 32-bit number. The aligned middle is read a
 * 32-bit word at a time through a view of the buffer (slicing-by-4), the same value as byte by
 * byte: a Raft server checksums every line it appends, and byte by byte that was the simulator's
 * largest JavaScript function. Under callgrind, in 3 rounds of the standard scenario, the function
 * that frames and checksums log lines fell from 191 M instructions to 41 M (a word costs one read
 * and one bounds check where four bytes cost four of each). The view costs an allocation a call,
 * which lines of a few dozen bytes repay.
 */
export const crc32 = (bytes: Uint8Array, start = 0, end = bytes.length): number => {
  // -1 rather than 0xffffffff: V8 keeps a signed 32-bit value in a register, an unsigned one in a heap number.
  let crc = -1
  let index = start
  if (LITTLE_ENDIAN) {
    for (; index < end && ((bytes.byteOffset + index) & 3) !== 0; index++) crc = TABLE[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8)
    const words = (end - index) >> 2
    if (words > 0) {
      const view = new Int32Array(bytes.buffer, bytes.byteOffset + index, words)
      for (let word = 0; word < words; word++) {
        const value = crc ^ view[word]!
        crc = SLICES[768 + (value & 0xff)]! ^ SLICES[512 + ((value >>> 8) & 0xff)]! ^ SLICES[256 + ((value >>> 16) & 0xff)]! ^ SLICES[value >>> 24]!
      }
      index += words * 4
    }
  }
  for (; index < end; index++) crc = TABLE[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}

/**
 * The CRC-32 of the UTF-8 encoding of `text`, without encoding it when it is ASCII (the usual
 * case: JSON of entries whose commands are ASCII), as the checksum is computed on every append.
 */
export const crc32OfText = (text: string): number => {
  let crc = -1
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code >= 0x80) return crc32(encodeText(text))
    crc = TABLE[(crc ^ code) & 0xff]! ^ (crc >>> 8)
  }
  return ~crc >>> 0
}

/**
 * The line format of every Raft storage file: `<crc32 as 8 lowercase hex digits> <json>\n`, the
 * checksum covering the JSON's UTF-8 bytes. Why this shape:
 *
 * - Text, one record a line, as before: a person can still read the files with `less` and `grep`,
 *   and the log stays append-only.
 * - The checksum comes first, at a fixed width. A reader finds it without looking at the JSON (which
 *   may be the damaged part), and a prefix of a line (a torn append) always starts with it, so the
 *   recovery of a torn tail can tell a prefix of a line from something that is not one.
 * - The newline closes the record. JSON.stringify never writes a raw newline, so a newline is only
 *   ever a record's end, and a line that has one was written whole (see `durable-state.ts` on why
 *   that tells torn writes from damage).
 */
export const CHECKSUM_DIGITS = 8

/** Bytes before the JSON in a line: the checksum and one space. */
export const HEADER_BYTES = CHECKSUM_DIGITS + 1

const NEWLINE = 0x0a
const SPACE = 0x20
const OPEN_BRACE = 0x7b

/** `json` framed as one checksummed line, newline included. */
export const checksummedLine = (json: string): string => checksumHex(crc32OfText(json)) + " " + json + "\n"

/** Each byte's two lowercase hex digits. */
const HEX_PAIRS: ReadonlyArray<string> = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

/**
 * `crc` as 8 lowercase hex digits. Four table lookups rather than `toString(16)` and `padStart`:
 * this runs for every line appended, and it takes a fifth of the time (70 against 400 ns a call).
 */
export const checksumHex = (crc: number): string =>
  HEX_PAIRS[crc >>> 24]! + HEX_PAIRS[(crc >>> 16) & 0xff]! + HEX_PAIRS[(crc >>> 8) & 0xff]! + HEX_PAIRS[crc & 0xff]!

/** Each byte's two lowercase hex digits as ASCII codes, the high digit first. */
const textEncoder = new TextEncoder()
const HEX_CODES: Uint8Array = textEncoder.encode(HEX_PAIRS.join(""))

/** Lines as bytes, and the offset just past each line's newline. */
export interface EncodedLines {
  readonly bytes: Uint8Array
  readonly lineEnds: ReadonlyArray<number>
}

/**
 * `jsons` framed as checksummed lines (the bytes of `checksummedLine` of each, in order). Each
 * JSON is encoded straight into its place by TextEncoder.encodeInto and checksummed from the
 * bytes: no framed string, no joined text, no buffer per line. Under callgrind that is 5,000
 * instructions for a log entry's line against 11,300 to frame, encode and checksum it as text
 * (reading a string by charCodeAt costs far more than reading bytes). This runs for every Raft append.
 */
export const encodeChecksummedLines = (jsons: ReadonlyArray<string>, allocate: (length: number) => Uint8Array = newBytes): EncodedLines => {
  let length = 0
  for (const json of jsons) length += HEADER_BYTES + json.length + 1
  // Sized for ASCII, where a character is a byte; other text is encoded line by line instead.
  const bytes = allocate(length)
  const lineEnds: Array<number> = []
  let position = 0
  for (const json of jsons) {
    const start = position + HEADER_BYTES
    const encoded = textEncoder.encodeInto(json, bytes.subarray(start, start + json.length))
    if (encoded.read !== json.length || encoded.written !== json.length) return encodeLinesOfAnyText(jsons)
    const crc = crc32(bytes, start, start + json.length)
    for (let digit = 0; digit < CHECKSUM_DIGITS; digit += 2) {
      const pair = ((crc >>> (24 - 4 * digit)) & 0xff) * 2
      bytes[position + digit] = HEX_CODES[pair]!
      bytes[position + digit + 1] = HEX_CODES[pair + 1]!
    }
    bytes[position + CHECKSUM_DIGITS] = SPACE
    position = start + json.length
    bytes[position++] = NEWLINE
    lineEnds.push(position)
  }
  return { bytes, lineEnds }
}

const newBytes = (length: number): Uint8Array => new Uint8Array(length)

/** `encodeChecksummedLines` for text that is not all ASCII: each line encoded as UTF-8. */
const encodeLinesOfAnyText = (jsons: ReadonlyArray<string>): EncodedLines => {
  const lines = jsons.map((json) => encodeText(checksummedLine(json)))
  const bytes = new Uint8Array(lines.reduce((total, line) => total + line.length, 0))
  const lineEnds: Array<number> = []
  let position = 0
  for (const line of lines) {
    bytes.set(line, position)
    position += line.length
    lineEnds.push(position)
  }
  return { bytes, lineEnds }
}

/** Why a line cannot be trusted; the damage is reported in the file's own words, never repaired. */
export type LineDamage = "malformed" | "checksumMismatch" | "invalidJson"

/** What reading one complete line (without its newline) gives: its JSON value, or why it is damaged. */
export type LineReading =
  | { readonly _tag: "Valid"; readonly value: unknown }
  | { readonly _tag: "Damaged"; readonly damage: LineDamage; readonly detail: string }

const hexValue = (byte: number): number => {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10
  return -1
}

/** The checksum in the header at `bytes[start]`, or -1 when the header is not 8 lowercase hex digits and a space. */
const readChecksum = (bytes: Uint8Array, start: number, end: number): number => {
  if (end - start < HEADER_BYTES || bytes[start + CHECKSUM_DIGITS] !== SPACE) return -1
  let value = 0
  for (let index = start; index < start + CHECKSUM_DIGITS; index++) {
    const digit = hexValue(bytes[index]!)
    if (digit < 0) return -1
    value = value * 16 + digit
  }
  return value
}

/** Reads the complete line `bytes[start, end)` (its newline excluded): checks the header and checksum, then parses the JSON. */
export const readLine = (bytes: Uint8Array, start: number, end: number): LineReading => {
  const expected = readChecksum(bytes, start, end)
  if (expected < 0) {
    // A line that is bare JSON most likely predates checksums: say so, as no single flipped bit turns a hex digit into "{".
    const legacy = bytes[start] === OPEN_BRACE ? "; bare JSON, as written before checksums were added?" : ""
    return { _tag: "Damaged", damage: "malformed", detail: `not a checksummed line (expected ${CHECKSUM_DIGITS} hex digits, a space and JSON${legacy})` }
  }
  const actual = crc32(bytes, start + HEADER_BYTES, end)
  if (actual !== expected) {
    return { _tag: "Damaged", damage: "checksumMismatch", detail: `checksum mismatch (stored ${checksumHex(expected)}, computed ${checksumHex(actual)})` }
  }
  try {
    return { _tag: "Valid", value: JSON.parse(decodeText(bytes.subarray(start + HEADER_BYTES, end))) }
  } catch (error) {
    // The checksum matched, so these are the bytes that were written: a bug, or a line forged by hand.
    return { _tag: "Damaged", damage: "invalidJson", detail: `invalid JSON under a valid checksum (${error instanceof Error ? error.message : String(error)})` }
  }
}

/**
 * Whether `bytes[start, end)`, which has no newline, can be a prefix of a line this format writes:
 * what a crash that tears an append leaves. It can if its header so far is hex digits then a space,
 * and its JSON so far has not closed its outermost value: a line's JSON ends where the newline
 * follows, so a tail with a closed value and more bytes after it is a whole line whose newline was
 * damaged, not a torn one. A tail that is a whole line but its newline must match its checksum,
 * since a tear keeps bytes as written.
 */
export const isLinePrefix = (bytes: Uint8Array, start: number, end: number): boolean => {
  for (let index = start; index < Math.min(end, start + CHECKSUM_DIGITS); index++) if (hexValue(bytes[index]!) < 0) return false
  if (end - start <= CHECKSUM_DIGITS) return true
  if (bytes[start + CHECKSUM_DIGITS] !== SPACE) return false
  // Our lines hold JSON objects.
  if (end - start > HEADER_BYTES && bytes[start + HEADER_BYTES] !== OPEN_BRACE) return false
  const closedAt = closingIndex(bytes, start + HEADER_BYTES, end)
  if (closedAt === undefined) return true
  if (closedAt + 1 < end) return false
  return readLine(bytes, start, end)._tag === "Valid"
}

/**
 * The index of the byte that closes the JSON object or array starting at `bytes[start]`, or
 * undefined when it is still open at `end`. Multi-byte UTF-8 sequences never contain ASCII bytes, so scanning
 * bytes for quotes, backslashes and brackets is exact.
 */
const closingIndex = (bytes: Uint8Array, start: number, end: number): number | undefined => {
  let depth = 0
  let inString = false
  for (let index = start; index < end; index++) {
    const byte = bytes[index]!
    if (inString) {
      if (byte === 0x5c) index++
      else if (byte === 0x22) inString = false
    } else if (byte === 0x22) {
      inString = true
    } else if (byte === OPEN_BRACE || byte === 0x5b) {
      depth++
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--
      if (depth <= 0) return index
    }
  }
  return undefined
}

/** The index of the next newline at or after `start`, or -1. */
export const nextNewline = (bytes: Uint8Array, start: number): number => bytes.indexOf(NEWLINE, start)
