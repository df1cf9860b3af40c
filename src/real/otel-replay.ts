// Hands a span the node finished straight to the OpenTelemetry SDK's span processors, as the span the SDK's tracer would have built, minus the tracer's work per span; or, as before, through the tracer.
//
// The export worker used to replay each span through `tracer.startSpan`, `addEvent`, `setStatus`
// and `end`. That built a context, asked the sampler again, copied the attributes twice and made
// an SDK span object, about a quarter of the worker's CPU per span, for a span whose every field
// the node already knew. Here the finished span is built once, with the same fields, and given to
// the span processors sdk-node configured from the environment (batching, exporters), so what is
// exported does not change: `test/otel-worker.test.ts` exports the same spans both ways and
// compares them field by field.
import {
  type Attributes,
  type AttributeValue,
  diag,
  type HrTime,
  type Link,
  ROOT_CONTEXT,
  type SpanContext,
  type SpanStatus,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer
} from "@opentelemetry/api"
import type { InstrumentationScope } from "@opentelemetry/core"
import type { Resource } from "@opentelemetry/resources"
import type { ReadableSpan, Span, SpanProcessor, TimedEvent } from "@opentelemetry/sdk-trace-base"
import { CONTEXT_REMOTE, CONTEXT_SAMPLED, type ContextFlags, type RecordAttributes, type SpanTuple } from "./otel-messages.ts"

/**
 * The limits the SDK's spans apply, as its tracer holds them: each `OTEL_SPAN_*_LIMIT` and
 * `OTEL_ATTRIBUTE_*_LIMIT` variable, else the SDK's default. The per-link attribute limit is left
 * out: the node's links carry no attributes.
 */
export interface SpanLimitsInForce {
  readonly attributeCountLimit: number
  readonly attributeValueLengthLimit: number
  readonly eventCountLimit: number
  readonly linkCountLimit: number
  readonly attributePerEventCountLimit: number
}

/** What spans are handed to: the SDK's span processor (every configured one behind one), and what each span carries. */
export interface SdkSpanSink {
  readonly processor: SpanProcessor
  readonly resource: Resource
  readonly scope: InstrumentationScope
  readonly limits: SpanLimitsInForce
}

/** The SDK's own time functions (`@opentelemetry/core`), so times convert exactly as its spans convert them. */
export interface SdkTime {
  readonly millisToHrTime: (epochMillis: number) => HrTime
  readonly hrTimeDuration: (startTime: HrTime, endTime: HrTime) => HrTime
}

/**
 * The span processor, resource, instrumentation scope and span limits of a tracer that sdk-node's
 * provider made, or undefined when they are not where `@opentelemetry/sdk-trace` 2.12 keeps them.
 * This is the one place that reads the SDK's internals: its Tracer keeps them in fields that are
 * not public API (`_spanProcessor`, `_resource`, `_spanLimits`). The worker records through the
 * tracer when this finds nothing, and `test/otel-worker.test.ts` fails if it finds nothing with
 * the installed SDK, so an upgrade that moves them is noticed.
 */
export const sdkSpanSinkOf = (tracer: unknown): SdkSpanSink | undefined => {
  const fields = tracer as {
    readonly _spanProcessor?: Partial<SpanProcessor>
    readonly _resource?: Partial<Resource>
    readonly _spanLimits?: Partial<Record<keyof SpanLimitsInForce, unknown>>
    readonly instrumentationScope?: Partial<InstrumentationScope>
  }
  const { _spanProcessor: processor, _resource: resource, _spanLimits: limits, instrumentationScope: scope } = fields
  if (typeof processor?.onStart !== "function" || typeof processor.onEnd !== "function") return undefined
  if (typeof resource?.attributes !== "object" || typeof scope?.name !== "string" || limits === undefined) return undefined
  const { attributeCountLimit, attributeValueLengthLimit, eventCountLimit, linkCountLimit, attributePerEventCountLimit } = limits
  const numbers = [attributeCountLimit, attributeValueLengthLimit, eventCountLimit, linkCountLimit, attributePerEventCountLimit]
  if (!numbers.every((limit) => typeof limit === "number")) return undefined
  return {
    processor: processor as SpanProcessor,
    resource: resource as Resource,
    scope: scope as InstrumentationScope,
    limits: limits as SpanLimitsInForce
  }
}

/** The SDK's `_truncateToSize`: strings cut to the length limit, a limit of zero or less meaning none. */
const truncated = (value: AttributeValue, lengthLimit: number): AttributeValue =>
  lengthLimit > 0 && typeof value === "string" && value.length > lengthLimit ? value.substring(0, lengthLimit) : value

/** Whether the SDK would keep these attributes as they are: few enough, every key named, no string too long. */
const withinLimits = (attributes: RecordAttributes, countLimit: number, lengthLimit: number): boolean => {
  let count = 0
  for (const key in attributes) {
    const value = attributes[key]
    if (key === "" || value === null || (lengthLimit > 0 && typeof value === "string" && value.length > lengthLimit)) return false
    count++
  }
  return count <= countLimit
}

/**
 * Attributes under the limits as the SDK's span applies them (`setAttributes` for a span's own,
 * `addEvent` for an event's): keys without a name skipped, the first `countLimit` kept and the rest
 * counted as dropped, strings cut. `skipNull`: a span's own attributes skip null values, an
 * event's keep them. The node sends strings, finite numbers and booleans only.
 */
const limited = (attributes: RecordAttributes, countLimit: number, lengthLimit: number, skipNull: boolean): readonly [Attributes, number] => {
  const kept: Attributes = {}
  let count = 0
  let dropped = 0
  for (const key in attributes) {
    const value = attributes[key]!
    if (key === "" || (skipNull && value === null)) continue
    if (count >= countLimit) dropped++
    else {
      kept[key] = truncated(value, lengthLimit)
      count++
    }
  }
  return [kept, dropped]
}

const STATUS_UNSET: SpanStatus = { code: SpanStatusCode.UNSET }
const STATUS_ERROR: SpanStatus = { code: SpanStatusCode.ERROR }

/** A span context from the node's ids and flags, as the worker's SDK would have read it from a traceparent. */
const spanContextOf = (traceId: string, spanId: string, flags: ContextFlags): SpanContext => ({
  traceId,
  spanId,
  traceFlags: (flags & CONTEXT_SAMPLED) === 0 ? TraceFlags.NONE : TraceFlags.SAMPLED,
  isRemote: (flags & CONTEXT_REMOTE) !== 0
})

/**
 * The links as the SDK's span keeps them: none when the limit is zero, else the newest
 * `linkCountLimit`, the rest counted as dropped.
 */
const limitedLinks = (tuple: SpanTuple, linkCountLimit: number): readonly [Array<Link>, number] => {
  const links: Array<Link> = []
  let dropped = 0
  for (const [traceId, spanId, flags] of tuple[5]) {
    if (linkCountLimit === 0) {
      dropped++
      continue
    }
    if (links.length >= linkCountLimit) {
      links.shift()
      dropped++
    }
    links.push({ context: spanContextOf(traceId, spanId, flags) })
  }
  return [links, dropped]
}

/** The events as the SDK's span keeps them (`addEvent`): the newest `eventCountLimit`, each with its attributes under their limit. */
const limitedEvents = (tuple: SpanTuple, limits: SpanLimitsInForce, time: SdkTime): readonly [Array<TimedEvent>, number] => {
  const events: Array<TimedEvent> = []
  let dropped = 0
  for (const [name, attributes, timeUnixMs] of tuple[7]) {
    if (limits.eventCountLimit === 0) {
      dropped++
      continue
    }
    if (events.length >= limits.eventCountLimit) {
      events.shift()
      dropped++
    }
    const [kept, droppedAttributesCount] = withinLimits(attributes, limits.attributePerEventCountLimit, limits.attributeValueLengthLimit)
      ? [attributes, 0]
      : limited(attributes, limits.attributePerEventCountLimit, limits.attributeValueLengthLimit, false)
    events.push({ name, attributes: kept, time: time.millisToHrTime(timeUnixMs), droppedAttributesCount })
  }
  return [events, dropped]
}

/**
 * A finished span with the fields the SDK's own span has when it reaches the span processors'
 * `onEnd`, built from what the node handed over under the SDK's limits. Like the SDK's, it always
 * has a `parentSpanContext`, undefined for a root, which `ReadableSpan` (an optional property)
 * does not allow under exactOptionalPropertyTypes: hence the Omit here and the cast where it is
 * handed over.
 */
class ReplayedSpan implements Omit<ReadableSpan, "parentSpanContext"> {
  ended = false
  readonly name: string
  readonly kind: number
  readonly parentSpanContext: SpanContext | undefined
  readonly startTime: HrTime
  readonly endTime: HrTime
  readonly duration: HrTime
  readonly status: SpanStatus
  readonly attributes: Attributes
  readonly droppedAttributesCount: number
  readonly links: Array<Link>
  readonly droppedLinksCount: number
  readonly events: Array<TimedEvent>
  readonly droppedEventsCount: number
  readonly resource: Resource
  readonly instrumentationScope: InstrumentationScope
  private readonly context: SpanContext

  constructor(tuple: SpanTuple, sink: SdkSpanSink, time: SdkTime) {
    const [name, kind, traceId, spanId, parent, links, attributes, events, startUnixMs, endUnixMs, error] = tuple
    const { limits } = sink
    this.context = { traceId, spanId, traceFlags: TraceFlags.SAMPLED }
    this.name = name
    this.kind = kind
    // Every parent is valid: the node reads only traceparents with non-zero ids, and draws its own.
    this.parentSpanContext = parent === null ? undefined : spanContextOf(traceId, parent[0], parent[1])
    this.startTime = time.millisToHrTime(startUnixMs)
    const endTime = time.millisToHrTime(endUnixMs)
    const duration = time.hrTimeDuration(this.startTime, endTime)
    // As the SDK's span does when the wall clock stepped back between start and end.
    this.endTime = duration[0] < 0 ? [this.startTime[0], this.startTime[1]] : endTime
    this.duration = duration[0] < 0 ? [0, 0] : duration
    this.status = error === 1 ? STATUS_ERROR : STATUS_UNSET
    const [keptAttributes, droppedAttributes] = withinLimits(attributes, limits.attributeCountLimit, limits.attributeValueLengthLimit)
      ? [attributes, 0]
      : limited(attributes, limits.attributeCountLimit, limits.attributeValueLengthLimit, true)
    const [keptLinks, droppedLinks] = links.length === 0 ? [[], 0] : limitedLinks(tuple, limits.linkCountLimit)
    const [keptEvents, droppedEvents] = events.length === 0 ? [[], 0] : limitedEvents(tuple, limits, time)
    this.attributes = keptAttributes
    this.droppedAttributesCount = droppedAttributes
    this.links = keptLinks
    this.droppedLinksCount = droppedLinks
    this.events = keptEvents
    this.droppedEventsCount = droppedEvents
    this.resource = sink.resource
    this.instrumentationScope = sink.scope
  }

  spanContext(): SpanContext {
    return this.context
  }
}

/**
 * Builds the span the SDK's tracer would have made from `tuple` and hands it to the span
 * processors: `onStart` with its parent's context, then `onEnding` and `onEnd`, as the SDK's span
 * calls them. Not asked again: the sampler (the node decided with the SDK's own rules, and sends
 * only sampled spans) and the id generator (the node drew the ids). Times are the node's wall-clock
 * milliseconds, far past `performance.now()`, which the SDK converts with `millisToHrTime`.
 */
export const makeSpanReplay = (sink: SdkSpanSink, time: SdkTime): ((tuple: SpanTuple) => void) => {
  const { processor } = sink
  return (tuple) => {
    const span = new ReplayedSpan(tuple, sink, time)
    const parent = span.parentSpanContext
    // The processors take the SDK's writable span at start; the ones sdk-node configures from the
    // environment (batch and simple) do nothing there.
    processor.onStart(span as unknown as Span, parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent))
    if (span.droppedEventsCount > 0) diag.warn(`Dropped ${span.droppedEventsCount} events because eventCountLimit reached`)
    if (span.droppedLinksCount > 0) diag.warn(`Dropped ${span.droppedLinksCount} links because linkCountLimit reached`)
    processor.onEnding?.(span as unknown as Span)
    span.ended = true
    processor.onEnd(span as ReadableSpan)
  }
}

/** The ids the worker's SDK gives the next span its tracer starts: the node's, set span by span (its id generator reads them). */
export interface NextIds {
  traceId: string
  spanId: string
}

const NO_LINKS: Array<Link> = []

/**
 * Records each span through the SDK's tracer (`startSpan`, `addEvent`, `setStatus`, `end`), as
 * the worker did before {@link makeSpanReplay}: what the direct replay must export exactly, and
 * the way the worker takes when {@link sdkSpanSinkOf} finds nothing.
 */
export const makeTracerReplay = (tracer: Tracer, next: NextIds): ((tuple: SpanTuple) => void) => (tuple) => {
  const [name, kind, traceId, spanId, parent, links, attributes, events, startUnixMs, endUnixMs, error] = tuple
  next.traceId = traceId
  next.spanId = spanId
  const parentContext = parent === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, spanContextOf(traceId, parent[0], parent[1]))
  const started = tracer.startSpan(
    name,
    {
      kind,
      attributes,
      links: links.length === 0 ? NO_LINKS : links.map(([linkTraceId, linkSpanId, flags]) => ({ context: spanContextOf(linkTraceId, linkSpanId, flags) })),
      startTime: startUnixMs,
      root: parent === null
    },
    parentContext
  )
  for (const [eventName, eventAttributes, timeUnixMs] of events) started.addEvent(eventName, eventAttributes, timeUnixMs)
  if (error === 1) started.setStatus({ code: SpanStatusCode.ERROR })
  started.end(endUnixMs)
}
