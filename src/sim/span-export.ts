// Exported spans of a simulated run: OpenTelemetry spans on simulated time, with ids drawn from the seed, written as OTLP JSON.
import type { NodeId, OpenSpan, SpanKind, SpanOptions, Spans, TraceAttributes } from "../env/index.ts"
import { formatTraceParent, OpenSpans, parseTraceParent, spanAttributes } from "../trace/index.ts"
import { RandomStream } from "./random-streams.ts"

/** The resource every span of a run shares besides its node: what OTLP calls resource attributes. */
export interface SpanExportResource {
  readonly cluster: string
  readonly protocol: string
  readonly seed: number
}

/** OTLP's span kinds, by their number in the protocol. */
const SPAN_KIND: Readonly<Record<SpanKind, number>> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

/** OTLP status codes: unset for a span that ended well, error for one that did not. */
const STATUS_ERROR = 2

interface SpanEvent {
  readonly timeUs: number
  readonly name: string
  readonly attributes: TraceAttributes
}

interface RecordedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly kind: SpanKind
  readonly startUs: number
  endUs: number
  readonly attributes: TraceAttributes
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
  readonly events: Array<SpanEvent>
  outcome: "ok" | "error" | undefined
}

/** The spans of one node incarnation: what its Tracing service hands its program, plus what the service itself needs. */
export interface NodeSpans extends Spans {
  /** Starts a span that is active until it ends: the node's protocol events are added to it (see `Tracing.span`). */
  readonly startActive: (name: string, attributes: TraceAttributes) => OpenSpan
  /** Adds a protocol event to the node's innermost active span, if any. */
  readonly event: (name: string, attributes: TraceAttributes) => void
}

type OtlpValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean }

const otlpValue = (value: string | number | boolean): OtlpValue => {
  switch (typeof value) {
    case "string":
      return { stringValue: value }
    case "boolean":
      return { boolValue: value }
    case "number":
      // As the OpenTelemetry SDK's own OTLP JSON does: integers as int64 (decimal text), others as doubles.
      return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value }
    default: {
      const unreachable: never = value
      throw new Error(`unknown attribute value ${String(unreachable)}`)
    }
  }
}

const otlpAttributes = (attributes: TraceAttributes) =>
  Object.entries(spanAttributes(attributes)).map(([key, value]) => ({ key, value: otlpValue(value) }))

/** Simulated microseconds as OTLP's nanoseconds since the Unix epoch: the run starts at `originUnixMs`. */
const unixNano = (originUnixMs: number, timeUs: number): string => (BigInt(originUnixMs) * 1_000_000n + BigInt(Math.round(timeUs)) * 1000n).toString()

/**
 * Collects the spans of one run. Ids come from a random stream of their own (`otlp`), which no
 * other part of the run draws from, and spans are recorded only when an export was asked for, so
 * exporting changes neither the run nor its trace hash; the same seed gives the same bytes.
 */
export class SpanExport {
  private readonly random: RandomStream
  /** Ended spans per node, nodes in the order they first ended a span. */
  private readonly ended = new Map<NodeId, Array<RecordedSpan>>()
  private spanTotal = 0
  private readonly traceIds = new Set<string>()

  constructor(
    private readonly resource: SpanExportResource,
    private readonly originUnixMs = 0
  ) {
    this.random = new RandomStream(resource.seed, "otlp")
  }

  /** Spans of one node incarnation, stamped with `nowUs` (simulated time); `alive` is false once the incarnation ended. */
  forNode(node: NodeId, nowUs: () => number, alive: () => boolean): NodeSpans {
    const active = new OpenSpans<OpenSpan>()
    const start = (name: string, attributes: TraceAttributes, options?: SpanOptions): OpenSpan => {
      const parent = parseTraceParent(options?.parent)
      const span: RecordedSpan = {
        traceId: parent?.traceId ?? this.hexId(4),
        spanId: this.hexId(2),
        parentSpanId: parent?.spanId,
        name,
        kind: options?.kind ?? "internal",
        startUs: nowUs(),
        endUs: 0,
        attributes,
        links: linkIds(options?.links),
        events: [],
        outcome: undefined
      }
      const opened: OpenSpan = {
        traceparent: formatTraceParent(span.traceId, span.spanId),
        event: (name, attributes) => {
          if (span.outcome === undefined) span.events.push({ timeUs: nowUs(), name, attributes })
        },
        end: (outcome = "ok") => {
          // A crashed incarnation's spans never end, as a killed process's spans are never exported.
          if (span.outcome !== undefined || !alive()) return
          span.outcome = outcome
          span.endUs = nowUs()
          active.remove(opened)
          this.record(node, span)
        }
      }
      return opened
    }
    return {
      enabled: true,
      start,
      startActive: (name, attributes) => {
        const span = start(name, attributes, { parent: active.innermost()?.traceparent })
        active.add(span)
        return span
      },
      event: (name, attributes) => active.innermost()?.event(name, attributes)
    }
  }

  /** Spans ended so far. */
  get spans(): number {
    return this.spanTotal
  }

  /** Distinct traces among them. */
  get traces(): number {
    return this.traceIds.size
  }

  /** The run's spans as one OTLP/JSON `ExportTraceServiceRequest`, one resource per node. */
  toOtlpJson(): string {
    const { cluster, protocol, seed } = this.resource
    const resourceSpans = [...this.ended].map(([node, spans]) => ({
      resource: {
        attributes: otlpAttributes({ "service.name": node, "faultline.cluster": cluster, "faultline.protocol": protocol, "faultline.seed": seed })
      },
      scopeSpans: [{ scope: { name: "faultline" }, spans: spans.map((span) => this.otlpSpan(span)) }]
    }))
    return JSON.stringify({ resourceSpans })
  }

  private otlpSpan(span: RecordedSpan) {
    return {
      traceId: span.traceId,
      spanId: span.spanId,
      ...(span.parentSpanId === undefined ? {} : { parentSpanId: span.parentSpanId }),
      name: span.name,
      kind: SPAN_KIND[span.kind],
      startTimeUnixNano: unixNano(this.originUnixMs, span.startUs),
      endTimeUnixNano: unixNano(this.originUnixMs, span.endUs),
      attributes: otlpAttributes(span.attributes),
      events: span.events.map((event) => ({
        timeUnixNano: unixNano(this.originUnixMs, event.timeUs),
        name: event.name,
        attributes: otlpAttributes(event.attributes)
      })),
      links: span.links.map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
      status: span.outcome === "error" ? { code: STATUS_ERROR } : {}
    }
  }

  private record(node: NodeId, span: RecordedSpan): void {
    let spans = this.ended.get(node)
    if (spans === undefined) {
      spans = []
      this.ended.set(node, spans)
    }
    spans.push(span)
    this.spanTotal++
    this.traceIds.add(span.traceId)
  }

  /** `words` 32-bit words of the stream as hex: 4 for a trace id, 2 for a span id (never all zero). */
  private hexId(words: number): string {
    let hex = ""
    for (let index = 0; index < words; index++) hex += this.random.nextInt(2 ** 32).toString(16).padStart(8, "0")
    return /^0+$/.test(hex) ? this.hexId(words) : hex
  }
}

const linkIds = (links: ReadonlyArray<string> | undefined) => {
  const ids: Array<{ traceId: string; spanId: string }> = []
  for (const link of links ?? []) {
    const parsed = parseTraceParent(link)
    if (parsed !== undefined) ids.push({ traceId: parsed.traceId, spanId: parsed.spanId })
  }
  return ids
}
