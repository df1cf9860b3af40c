// The pieces that make span export cheap must say exactly what the slow, obvious code said: JSON text as JSON.stringify writes it, traceparents as the W3C pattern reads them.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { JsonBytes, JsonChunks } from "../src/sim/json-bytes.ts"
import { isTraceParent, parseTraceParent } from "../src/trace/index.ts"

/** The rule the character-by-character check replaced, kept here as the reference. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const referenceIsTraceParent = (text: string): boolean => {
  const match = TRACEPARENT.exec(text)
  return match !== null && match[1] !== "0".repeat(32) && match[2] !== "0".repeat(16)
}

describe("JsonBytes", () => {
  it("writes strings exactly as JSON.stringify does, whatever they hold", () => {
    const samples = ["", "plain", "quote \" and \\ backslash", "tab\tnew\nline\u0000", "é ü 漢字 🙂", "lone \ud800 surrogate", "\u007f delete"]
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom(...samples))), (texts) => {
        const out = new JsonBytes(4)
        for (const text of texts) out.string(text)
        expect(out.toString()).toBe(texts.map((text) => JSON.stringify(text)).join(""))
      })
    )
  })

  it("writes safe integers as String does, and refuses anything else", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.maxSafeInteger().map((value) => -value), fc.constant(-0))), (values) => {
        const out = new JsonBytes(1)
        for (const value of values) {
          out.integer(value)
          out.ascii(",")
        }
        expect(out.toString()).toBe(values.map((value) => `${String(value)},`).join(""))
      })
    )
    expect(() => new JsonBytes().integer(1.5)).toThrow(/not a safe integer/)
    expect(() => new JsonBytes().integer(2 ** 53)).toThrow(/not a safe integer/)
  })

  it("appends another buffer's bytes and slices of ASCII text, and writes ASCII over bytes already written", () => {
    const inner = new JsonBytes(2)
    inner.ascii(`{"a":`)
    inner.string("é")
    const out = new JsonBytes(2)
    out.ascii("[")
    out.raw(inner.view())
    out.asciiSlice("xx}]yy", 2, 4)
    expect(out.toString()).toBe(`[{"a":"é"}]`)
    expect(JSON.parse(out.toString())).toEqual([{ a: "é" }])
    out.asciiAt(2, `"b"`, 0, 3)
    expect(out.toString()).toBe(`[{"b":"é"}]`)
    expect(() => out.asciiAt(out.length - 1, "ab", 0, 2)).toThrow(/past the 12 bytes written/)
  })
})

describe("JsonChunks", () => {
  it("holds what was appended, in order, across as many chunks as it takes", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary" }), { maxLength: 60 }), fc.integer({ min: 1, max: 64 }), (texts, chunkBytes) => {
        const chunks = new JsonChunks(chunkBytes)
        for (const text of texts) chunks.out.string(text)
        const out = new JsonBytes(1)
        out.ascii("[")
        chunks.pieces((piece) => out.raw(piece))
        expect(chunks.length).toBe(out.length - 1)
        expect(out.toString()).toBe(`[${texts.map((text) => JSON.stringify(text)).join("")}`)
        chunks.release()
      })
    )
  })

  it("lends released chunks' buffers to the next, which write over them, and refuses use after release", () => {
    // A chunk size no other test uses, so the pool holds only what `first` gives back; and items
    // that fit, so no chunk grows past the pool's size. Small buffers share one slab, so a buffer is
    // known by where it sits in its slab.
    const chunkBytes = 100
    const where = (piece: Uint8Array) => `${piece.byteOffset}`
    const first = new JsonChunks(chunkBytes)
    for (let index = 0; index < 30; index++) first.out.string(`first ${index % 10}`)
    const lent = new Map<ArrayBufferLike, Set<string>>()
    first.pieces((piece) => (lent.get(piece.buffer) ?? lent.set(piece.buffer, new Set()).get(piece.buffer)!).add(where(piece)))
    first.release()
    expect(() => first.out).toThrow(/after it was released/)
    expect(() => first.pieces(() => {})).toThrow(/after it was released/)

    const second = new JsonChunks(chunkBytes)
    for (let index = 0; index < 30; index++) second.out.string(`second ${index % 10}`)
    const out = new JsonBytes(1)
    let reused = 0
    second.pieces((piece) => {
      if (lent.get(piece.buffer)?.has(where(piece)) === true) reused++
      out.raw(piece)
    })
    expect(reused).toBeGreaterThan(0)
    expect(out.toString()).toBe(Array.from({ length: 30 }, (_, index) => JSON.stringify(`second ${index % 10}`)).join(""))
    second.release()
  })
})

describe("isTraceParent", () => {
  const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

  it("takes what the W3C pattern takes, with non-zero ids, and nothing else", () => {
    const hex = fc.constantFrom(..."0123456789abcdefABx-")
    const mutated = fc.tuple(fc.nat({ max: valid.length - 1 }), hex).map(([index, character]) => valid.slice(0, index) + character + valid.slice(index + 1))
    const arbitraryText = fc.oneof(mutated, fc.string(), fc.constant(valid), fc.constant(valid + "0"), fc.constant(valid.slice(1)))
    fc.assert(
      fc.property(arbitraryText, (text) => {
        expect(isTraceParent(text)).toBe(referenceIsTraceParent(text))
      }),
      { numRuns: 2000 }
    )
    expect(isTraceParent(valid)).toBe(true)
    expect(isTraceParent("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).toBe(false)
    expect(isTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")).toBe(false)
    expect(isTraceParent(undefined)).toBe(false)
    expect(isTraceParent(42)).toBe(false)
  })

  it("parses the ids and the sampled flag", () => {
    expect(parseTraceParent(valid)).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true })
    expect(parseTraceParent(valid.replace(/01$/, "00"))?.sampled).toBe(false)
    expect(parseTraceParent(valid.toUpperCase())).toBeUndefined()
  })
})
