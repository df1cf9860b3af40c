// The wire codec: the receiver's copy of a message is exactly what decoding its text gives.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeMessage, encodeMessage, receivedCopy } from "../src/env/index.ts"

/** Every object and array reachable from `value`. */
const containers = (value: unknown, found = new Set<object>()): Set<object> => {
  if (typeof value === "object" && value !== null && !found.has(value)) {
    found.add(value)
    for (const item of Object.values(value)) containers(item, found)
  }
  return found
}

const checkCopy = (value: unknown) => {
  let text: string
  try {
    text = encodeMessage(value)
  } catch {
    return // not encodable at all (undefined, a BigInt, a cycle): send fails before any copy
  }
  const copy = receivedCopy(value, text)
  const decoded = decodeMessage(text)
  // Same value, same key order, and no object shared with the sender's.
  expect(copy).toStrictEqual(decoded)
  expect(JSON.stringify(copy)).toBe(JSON.stringify(decoded))
  const original = containers(value)
  for (const container of containers(copy)) expect(original.has(container)).toBe(false)
}

describe("receivedCopy", () => {
  it("equals the decoded text for plain JSON data", () => {
    fc.assert(fc.property(fc.jsonValue(), checkCopy), { numRuns: 500 })
  })

  it("equals the decoded text for values the JSON round trip changes", () => {
    const awkward = fc.anything({
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true
    })
    fc.assert(fc.property(awkward, checkCopy), { numRuns: 500 })
  })

  it("handles the cases a fast copy gets wrong by hand", () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const cases: Array<unknown> = [
      { zero: -0 },
      [Number.NaN, Number.POSITIVE_INFINITY],
      { skipped: undefined, kept: 1 },
      [undefined, () => 1],
      { when: new Date(0) },
      { toJSON: () => "custom" },
      JSON.parse('{"__proto__": {"polluted": true}}'),
      { 2: "b", 1: "a", z: 0, y: 1 },
      new Point(3),
      { nested: [[{ deep: [1, "two", null, true] }]] },
      { list: Object.assign([1, 2], { toJSON: () => "as text" }) }
    ]
    for (const value of cases) checkCopy(value)
    expect(receivedCopy({ zero: -0 }, encodeMessage({ zero: -0 }))).toStrictEqual({ zero: 0 })
  })

  it("ignores keys a polluted Object.prototype would lend every object, as JSON does", () => {
    Object.defineProperty(Object.prototype, "inherited", { value: 1, enumerable: true, configurable: true, writable: true })
    try {
      checkCopy({ own: 2 })
      expect(Object.keys(receivedCopy({ own: 2 }, encodeMessage({ own: 2 })) as object)).toEqual(["own"])
    } finally {
      delete (Object.prototype as Record<string, unknown>)["inherited"]
    }
  })
})
