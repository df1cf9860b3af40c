// The simulated OTLP JSON, written from cached byte pieces, must say exactly what the obvious JSON.stringify of the same spans says.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { SpanKind, TraceAttributes } from "../src/env/index.ts"
import { SpanExport } from "../src/sim/span-export.ts"
import { parseTraceParent, spanAttributeValue } from "../src/trace/index.ts"

/** The reference: OTLP JSON's AnyValue as the obvious code writes it. */
const referenceValue = (value: string | number | boolean): Record<string, unknown> =>
  typeof value === "string"
    ? { stringValue: value }
    : typeof value === "boolean"
    ? { boolValue: value }
    : Number.isSafeInteger(value)
    ? { intValue: String(value) }
    : { doubleValue: value }

const referenceAttributes = (attributes: TraceAttributes) =>
  Object.keys(attributes).map((key) => ({ key, value: referenceValue(spanAttributeValue(attributes[key])) }))

/** A list field as OTLP/JSON's protobuf mapping writes it: left out when empty. */
const listed = <A>(field: string, items: ReadonlyArray<A>): Record<string, ReadonlyArray<A>> => (items.length === 0 ? {} : { [field]: items })

const KINDS: ReadonlyArray<SpanKind> = ["internal", "server", "client", "producer", "consumer"]
const KIND_NUMBER: Record<SpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

const attributeValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.maxSafeInteger(), fc.constantFrom("n1", "n2", 7, 7.5, "é 漢字 🙂", "lone \ud800"))
const attributes = fc.dictionary(fc.oneof(fc.constantFrom("raft.term", "raft.to", "kv.key"), fc.string()), attributeValue, { maxKeys: 4 })
const spanPlan = fc.record({
  name: fc.oneof(fc.constantFrom("raft.append", "storage.sync"), fc.string()),
  kind: fc.constantFrom(...KINDS),
  attributes,
  /** Which earlier span is the parent (as a fraction of those started), if any. */
  parent: fc.option(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })),
  events: fc.array(fc.record({ name: fc.string(), attributes }), { maxLength: 2 }),
  durationUs: fc.nat({ max: 10_000_000 }),
  error: fc.boolean()
})

describe("simulated OTLP JSON", () => {
  it("holds every ended span as JSON.stringify of the same span would, in any origin", () => {
    fc.assert(
      fc.property(fc.array(spanPlan, { maxLength: 12 }), fc.constantFrom(0, 1_764_547_200_123, -5), (plans, originUnixMs) => {
        const spanExport = new SpanExport({ cluster: "c", protocol: "raft", seed: 1 }, originUnixMs)
        let nowUs = 0
        const node = spanExport.forNode("n1", () => nowUs, () => true)
        const started: Array<string> = []
        const expected: Array<Record<string, unknown>> = []
        const unixNano = (timeUs: number) => String(BigInt(originUnixMs) * 1_000_000n + BigInt(timeUs) * 1000n)
        for (const plan of plans) {
          const parent = plan.parent === null || started.length === 0 ? undefined : started[Math.floor(plan.parent * started.length)]
          const links = started.slice(0, 2)
          const startUs = nowUs
          const span = node.start(plan.name, plan.attributes, { kind: plan.kind, parent, links })
          started.push(span.traceparent)
          for (const event of plan.events) span.event(event.name, event.attributes)
          nowUs += plan.durationUs
          span.end(plan.error ? "error" : "ok")
          expected.push({
            traceId: span.traceparent.slice(3, 35),
            spanId: span.traceparent.slice(36, 52),
            ...(parent === undefined ? {} : { parentSpanId: parent.slice(36, 52) }),
            name: plan.name,
            kind: KIND_NUMBER[plan.kind],
            startTimeUnixNano: unixNano(startUs),
            endTimeUnixNano: unixNano(nowUs),
            ...listed("attributes", referenceAttributes(plan.attributes)),
            ...listed("events", plan.events.map((event) => ({ timeUnixNano: unixNano(startUs), name: event.name, ...listed("attributes", referenceAttributes(event.attributes)) }))),
            ...listed("links", links.map((link) => ({ traceId: link.slice(3, 35), spanId: link.slice(36, 52) }))),
            // An unset status, like an empty list, is left out.
            ...(plan.error ? { status: { code: 2 } } : {})
          })
        }
        const json = spanExport.toOtlpJson()
        if (plans.length === 0) {
          expect(json).toBe(`{"resourceSpans":[]}`)
          return
        }
        const resource = { attributes: referenceAttributes({ "service.name": "n1", "faultline.cluster": "c", "faultline.protocol": "raft", "faultline.seed": 1 }) }
        expect(json).toBe(JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: "faultline" }, spans: expected }] }] }))
        expect(spanExport.spans).toBe(plans.length)
        expect(spanExport.traces).toBe(new Set(expected.map((span) => span.traceId)).size)
      }),
      { numRuns: 300 }
    )
  })

  it("writes out, piece by piece, exactly the bytes it would hand over whole, and is done after", () => {
    const spanExport = new SpanExport({ cluster: "c", protocol: "raft", seed: 3 }, 1_700_000_000_000)
    let nowUs = 0
    const nodes = ["n1", "n2", "n3"].map((node) => spanExport.forNode(node, () => nowUs, () => true))
    // Enough spans to fill several chunks of each node, so the pieces cross chunk boundaries.
    for (let index = 0; index < 1500; index++) {
      nowUs += 7
      const span = nodes[index % 3]!.start("raft.append", { "raft.to": `n${index % 3}`, "raft.term": index }, { kind: "producer" })
      span.end(index % 11 === 0 ? "error" : "ok")
    }
    const whole = Buffer.from(spanExport.toOtlpBytes())
    const pieces: Array<Buffer> = []
    spanExport.writeOtlp((piece) => pieces.push(Buffer.from(piece)))
    expect(pieces.length).toBeGreaterThan(7)
    expect(Buffer.concat(pieces).equals(whole)).toBe(true)
    const request = JSON.parse(whole.toString("utf8")) as { resourceSpans: ReadonlyArray<{ scopeSpans: ReadonlyArray<{ spans: ReadonlyArray<unknown> }> }> }
    expect(request.resourceSpans.map((resource) => resource.scopeSpans[0]!.spans.length)).toEqual([500, 500, 500])
    expect(() => spanExport.toOtlpBytes()).toThrow(/already written out/)
    expect(() => nodes[0]!.start("late", {}).end()).toThrow(/already written out/)
  })

  it("takes a parent known only by its traceparent, long read or from elsewhere, as the same span and trace", () => {
    // Set up: a root span, then enough other spans started since that the export no longer holds
    // the root among the traceparents it drew lately, and must check and read the root's text.
    const spanExport = new SpanExport({ cluster: "c", protocol: "raft", seed: 5 })
    const node = spanExport.forNode("n1", () => 0, () => true)
    const root = node.start("root", {})
    const rootTraceparent = root.traceparent
    for (let index = 0; index < 1000; index++) {
      const other = node.start("other", {})
      expect(other.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
      other.end()
    }
    const foreign = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    const rootIds = parseTraceParent(rootTraceparent)!
    const foreignIds = parseTraceParent(foreign)!

    // Act: children of the root by its text alone, of a foreign span, and of text that is no traceparent.
    node.start("child", {}, { parent: rootTraceparent }).end()
    node.start("foreign child", {}, { parent: foreign, links: [rootTraceparent, "not a traceparent"] }).end()
    node.start("orphan", {}, { parent: "00-zz" }).end()
    root.end()

    // Check: the ids are the parents', and each trace is counted once.
    const spans = (JSON.parse(spanExport.toOtlpJson()) as { resourceSpans: ReadonlyArray<{ scopeSpans: ReadonlyArray<{ spans: ReadonlyArray<Record<string, unknown>> }> }> })
      .resourceSpans[0]!.scopeSpans[0]!.spans
    const named = (name: string) => spans.find((span) => span.name === name)!
    expect(named("child")).toMatchObject({ traceId: rootIds.traceId, parentSpanId: rootIds.spanId })
    expect(named("root")).toMatchObject({ traceId: rootIds.traceId, spanId: rootIds.spanId })
    expect(named("foreign child")).toMatchObject({ traceId: foreignIds.traceId, parentSpanId: foreignIds.spanId, links: [{ traceId: rootIds.traceId, spanId: rootIds.spanId }] })
    expect(named("orphan").parentSpanId).toBeUndefined()
    expect(spanExport.spans).toBe(1004)
    expect(spanExport.traces).toBe(new Set(spans.map((span) => span.traceId)).size)
    expect(spanExport.traces).toBe(1003)
  })

  it("writes an export without spans as an empty request", () => {
    const spanExport = new SpanExport({ cluster: "c", protocol: "raft", seed: 3 })
    const pieces: Array<string> = []
    spanExport.writeOtlp((piece) => pieces.push(Buffer.from(piece).toString("utf8")))
    expect(pieces.join("")).toBe(`{"resourceSpans":[]}`)
  })
})
