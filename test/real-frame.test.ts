// Wire frames of real nodes: round trips under any TCP chunking, and corruption never decoded as a different frame.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  type DecodeResult,
  decodeMessagePayload,
  encodeFrame,
  encodeMessageFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameKind,
  WIRE_VERSION
} from "../src/real/frame.ts"

/** Splits `bytes` at the given cut points (any numbers; each is reduced into range and sorted). */
const chunked = (bytes: Buffer, cuts: ReadonlyArray<number>): Array<Buffer> => {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Buffer> = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point))
    start = point
  }
  return chunks
}

const decodeAll = (decoder: FrameDecoder, chunks: ReadonlyArray<Buffer>): Array<DecodeResult> =>
  chunks.flatMap((chunk) => decoder.push(chunk))

const messages = fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 8 })
const cuts = fc.array(fc.nat(100_000), { maxLength: 40 })

describe("frames", () => {
  it("round-trip any messages, however the stream is split or coalesced into chunks", () => {
    fc.assert(
      fc.property(messages, cuts, (values, cutPoints) => {
        const stream = Buffer.concat(values.map((value) => encodeMessageFrame(value)!))
        const results = decodeAll(new FrameDecoder(), chunked(stream, cutPoints))
        expect(results.every((result) => result._tag === "Frame")).toBe(true)
        const decoded = results.map((result) => {
          if (result._tag !== "Frame") throw new Error("not a frame")
          expect(result.kind).toBe(FrameKind.Message)
          const payload = decodeMessagePayload(result.payload)
          if (payload._tag !== "Message") throw new Error(payload.reason)
          return payload.message
        })
        // What JSON makes of each value is what the receiver must get (-0 becomes 0, for instance).
        expect(decoded).toEqual(values.map((value) => JSON.parse(JSON.stringify(value))))
      }),
      { numRuns: 300 }
    )
  })

  it("never decodes a corrupted stream into a frame that differs from what was sent", () => {
    const corruption = fc.record({ position: fc.nat(), flip: fc.integer({ min: 1, max: 255 }) })
    fc.assert(
      fc.property(messages, fc.array(corruption, { minLength: 1, maxLength: 3 }), cuts, (values, flips, cutPoints) => {
        const frames = values.map((value) => encodeMessageFrame(value)!)
        const stream = Buffer.concat(frames)
        const corrupted = Buffer.from(stream)
        for (const { position, flip } of flips) corrupted[position % stream.length]! ^= flip
        // The index of the first frame whose bytes changed.
        let firstBad = 0
        let offset = 0
        while (offset + frames[firstBad]!.length <= stream.length &&
          corrupted.subarray(offset, offset + frames[firstBad]!.length).equals(frames[firstBad]!)) {
          offset += frames[firstBad]!.length
          firstBad++
          if (firstBad === frames.length) return // the flips cancelled out
        }
        const results = decodeAll(new FrameDecoder(), chunked(corrupted, cutPoints))
        const decoded = results.filter((result) => result._tag === "Frame")
        // Intact frames before the damage decode as sent; the damaged one and everything after it
        // is either refused with a typed error or still waiting for bytes, never decoded.
        expect(decoded.length).toBeLessThanOrEqual(firstBad)
        decoded.forEach((result, index) => expect(Buffer.from(result.payload)).toEqual(frames[index]!.subarray(FRAME_HEADER_BYTES)))
        const errors = results.filter((result) => result._tag !== "Frame")
        expect(errors.length).toBeLessThanOrEqual(1)
        if (errors.length === 1) expect(results.at(-1)).toBe(errors[0])
      }),
      { numRuns: 500 }
    )
  })

  it("refuses a frame of another wire version", () => {
    const frame = encodeFrame(FrameKind.Message, Buffer.from("1"))
    frame.writeUInt8(WIRE_VERSION + 1, 4)
    expect(new FrameDecoder().push(frame)).toEqual([{ _tag: "BadVersion", version: WIRE_VERSION + 1 }])
  })

  it("refuses an oversized frame from its header alone, before any of its payload arrives", () => {
    const decoder = new FrameDecoder(1024)
    const header = Buffer.alloc(FRAME_HEADER_BYTES)
    header.writeUInt32BE(1025, 0)
    header.writeUInt8(WIRE_VERSION, 4)
    header.writeUInt8(FrameKind.Message, 5)
    expect(decoder.push(header)).toEqual([{ _tag: "Oversized", length: 1025, maxLength: 1024 }])
    expect(decoder.bufferedBytes).toBe(0)
  })

  it("applies a new size limit from the next frame on, when frames are pulled one at a time", () => {
    const decoder = new FrameDecoder(16)
    decoder.append(Buffer.concat([encodeFrame(FrameKind.Hello, Buffer.alloc(16)), encodeFrame(FrameKind.Message, Buffer.alloc(1000))]))
    expect(decoder.next()?._tag).toBe("Frame")
    decoder.setMaxPayloadBytes(1000)
    expect(decoder.next()?._tag).toBe("Frame")
    expect(decoder.next()).toBeUndefined()
  })

  it("accepts a frame of exactly the maximum size", () => {
    const payload = Buffer.alloc(1024, 7)
    const results = new FrameDecoder(1024).push(encodeFrame(FrameKind.Message, payload, 1024))
    expect(results).toHaveLength(1)
    expect(results[0]!._tag).toBe("Frame")
  })

  it("refuses an unknown frame kind, and a checksum that does not match", () => {
    const unknownKind = encodeFrame(FrameKind.Message, Buffer.from("1"))
    unknownKind.writeUInt8(99, 5)
    expect(new FrameDecoder().push(unknownKind)).toEqual([{ _tag: "Malformed", reason: "unknown frame kind 99" }])
    const badSum = encodeFrame(FrameKind.Message, Buffer.from("[1,2]"))
    badSum[FRAME_HEADER_BYTES + 1]! ^= 0x40
    const [result] = new FrameDecoder().push(badSum)
    expect(result?._tag).toBe("BadChecksum")
  })

  it("stops at the first bad frame: nothing after it is decoded, not even good frames", () => {
    const decoder = new FrameDecoder()
    const good = encodeMessageFrame({ n: 1 })!
    const garbage = Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    const results = decoder.push(Buffer.concat([good, garbage, good]))
    expect(results.map((result) => result._tag)).toEqual(["Frame", "BadVersion"])
    expect(decoder.push(good)).toEqual([])
    expect(decoder.error?._tag).toBe("BadVersion")
  })

  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), cuts, (bytes, cutPoints) => {
        const results = decodeAll(new FrameDecoder(64), chunked(Buffer.from(bytes), cutPoints))
        expect(results.filter((result) => result._tag !== "Frame").length).toBeLessThanOrEqual(1)
      }),
      { numRuns: 300 }
    )
  })

  it("reports a payload that is not UTF-8 JSON as malformed", () => {
    expect(decodeMessagePayload(Buffer.from("{not json"))._tag).toBe("Malformed")
    expect(decodeMessagePayload(Buffer.from([0x22, 0xff, 0x22]))._tag).toBe("Malformed")
    expect(decodeMessagePayload(Buffer.from('"ok"'))).toEqual({ _tag: "Message", message: "ok" })
  })

  it("refuses to encode a message larger than the maximum, so a sender can count it lost", () => {
    expect(encodeMessageFrame("x".repeat(100), 50)).toBeUndefined()
    expect(encodeMessageFrame("x".repeat(10), 50)).toBeDefined()
  })
})
