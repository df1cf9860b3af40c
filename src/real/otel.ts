// OpenTelemetry export of a real node: the SDK configured only by the standard OTEL_* variables, and off (no connection at all) unless they ask for it.
import type { Attributes, ContextManager, Link, Span } from "@opentelemetry/api"
import type { NodeId, OpenSpan, SpanKind, SpanOptions, TraceAttributes, TraceParent } from "../env/index.ts"
import { OpenSpans, parseTraceParent, spanAttributes } from "../trace/index.ts"

/** What a node's Tracing service needs to export: its own spans, and where its protocol events go. */
export interface ExportedNodeSpans {
  readonly enabled: true
  readonly start: (name: string, attributes: TraceAttributes, options?: SpanOptions) => OpenSpan
  /** Starts a span that is active until it ends: the node's protocol events are added to it (see `Tracing.span`). */
  readonly startActive: (name: string, attributes: TraceAttributes) => OpenSpan
  /** Adds a protocol event to the node's innermost active span, if any. */
  readonly event: (name: string, attributes: TraceAttributes) => void
}

/** A process's running export: spans for each node it hosts, and a shutdown that flushes what is queued. */
export interface OtelExport {
  readonly forNode: () => ExportedNodeSpans
  readonly shutdown: () => Promise<void>
}

/** Who is exporting: the node (its service name), its cluster and its protocol, as resource attributes. */
export interface OtelResource {
  readonly node: NodeId
  readonly cluster: string
  readonly protocol: string
}

const listOf = (value: string | undefined): Array<string> =>
  (value ?? "").split(",").map((item) => item.trim().toLowerCase()).filter((item) => item.length > 0)

/**
 * Whether the environment asks for spans to be exported: `OTEL_TRACES_EXPORTER` names an exporter
 * other than `none`, or, with it unset, an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). The SDK itself would export to localhost:4318 with
 * nothing set; Faultline exports nothing then and starts no SDK, so it contacts nothing.
 * `OTEL_SDK_DISABLED=true` turns export off whatever else is set.
 */
export const otelTracesConfigured = (env: Readonly<Record<string, string | undefined>>): boolean => {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false
  const exporters = listOf(env.OTEL_TRACES_EXPORTER)
  if (exporters.length > 0) return !exporters.includes("none")
  return [env.OTEL_EXPORTER_OTLP_ENDPOINT, env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT].some((value) => (value ?? "").trim() !== "")
}

const OTEL_KIND: Readonly<Record<SpanKind, number>> = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 }

/** No links: what most spans have, shared (the SDK copies the list it is given). */
const NO_LINKS: Array<Link> = []

/** Whether every attribute is already a string, number or boolean, as OpenTelemetry takes them. */
const allPrimitive = (attributes: TraceAttributes): boolean => {
  for (const key in attributes) {
    const type = typeof attributes[key]
    if (type !== "string" && type !== "boolean" && (type !== "number" || !Number.isFinite(attributes[key]))) return false
  }
  return true
}

/** The attributes as OpenTelemetry takes them, copied only when one needs converting. */
const otelAttributes = (attributes: TraceAttributes): Attributes =>
  (allPrimitive(attributes) ? attributes : spanAttributes(attributes)) as Attributes

/**
 * Starts the OpenTelemetry SDK (`@opentelemetry/sdk-node`) when {@link otelTracesConfigured}, else
 * returns undefined. sdk-node rather than sdk-trace-base and one exporter: it reads every standard
 * variable itself (exporter choice, OTLP protocol, endpoint, headers, batching, sampling, resource
 * attributes), so Faultline adds no configuration of its own. (Larger default batches, 4,096 spans
 * rather than 512, made no difference to CPU per put on a busy cluster.) Metrics and logs stay
 * off: only traces are asked for. The SDK is loaded only here, so a node that exports nothing
 * never loads it.
 */
export const startOtelExport = async (
  resource: OtelResource,
  env: Readonly<Record<string, string | undefined>> = process.env
): Promise<OtelExport | undefined> => {
  if (!otelTracesConfigured(env)) return undefined
  const [{ NodeSDK }, { resourceFromAttributes }, api] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/api")
  ])
  const sdk = new NodeSDK({
    serviceName: resource.node,
    resource: resourceFromAttributes({ "faultline.cluster": resource.cluster, "faultline.protocol": resource.protocol }),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    // Parents are always explicit (a traceparent from a message, or a span of the node's own), so
    // no context manager: the default one (AsyncLocalStorage) hooks every promise of the process.
    // sdk-node reads null as "register none", though its type does not say so. No global
    // propagator either: the context travels in Faultline's envelope, not in headers.
    contextManager: null as unknown as ContextManager,
    textMapPropagator: null
  })
  sdk.start()
  const tracer = api.trace.getTracer("faultline")

  const contextOf = (traceparent: string | undefined) => {
    const ids = parseTraceParent(traceparent)
    if (ids === undefined) return undefined
    return { traceId: ids.traceId, spanId: ids.spanId, traceFlags: ids.sampled ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE, isRemote: true }
  }

  /** A started SDK span as Faultline's OpenSpan: one small object, its methods shared. */
  class ExportedSpan implements OpenSpan {
    readonly traceparent: TraceParent
    private ended = false

    constructor(private readonly span: Span, private readonly active: OpenSpans<OpenSpan>) {
      const context = span.spanContext()
      this.traceparent = `00-${context.traceId}-${context.spanId}-0${context.traceFlags & 1}`
    }

    event(name: string, attributes: TraceAttributes): void {
      if (!this.ended) this.span.addEvent(name, otelAttributes(attributes))
    }

    end(outcome: "ok" | "error" = "ok"): void {
      if (this.ended) return
      this.ended = true
      if (outcome === "error") this.span.setStatus({ code: api.SpanStatusCode.ERROR })
      this.span.end()
      this.active.remove(this)
    }
  }

  const startSpan = (active: OpenSpans<OpenSpan>, name: string, attributes: TraceAttributes, options?: SpanOptions): OpenSpan => {
    const parent = contextOf(options?.parent)
    let links: Array<Link> | undefined
    for (const link of options?.links ?? []) {
      const context = contextOf(link)
      if (context !== undefined) (links ??= []).push({ context })
    }
    const span = tracer.startSpan(
      name,
      { kind: OTEL_KIND[options?.kind ?? "internal"], attributes: otelAttributes(attributes), links: links ?? NO_LINKS, root: parent === undefined },
      parent === undefined ? api.ROOT_CONTEXT : api.trace.setSpanContext(api.ROOT_CONTEXT, parent)
    )
    return new ExportedSpan(span, active)
  }

  return {
    forNode: () => {
      const active = new OpenSpans<OpenSpan>()
      return {
        enabled: true,
        start: (name, attributes, options) => startSpan(active, name, attributes, options),
        startActive: (name, attributes) => {
          const span = startSpan(active, name, attributes, { parent: active.innermost()?.traceparent })
          active.add(span)
          return span
        },
        event: (name, attributes) => active.innermost()?.event(name, attributes)
      }
    },
    shutdown: () => sdk.shutdown()
  }
}
