// OpenTelemetry export of a real node: the SDK configured only by the standard OTEL_* variables, and off (no connection at all) unless they ask for it.
//
// The SDK runs on a worker thread of its own (`otel-worker.ts`). The node's thread only draws a
// span's ids when it starts (they travel in messages at once), reads the clock, and hands the
// finished span over in batches; the SDK's span objects, its batching, the OTLP encoding and the
// posts all happen on the worker. Measured in session 8, the SDK's work on the node's thread cost
// 20-100 µs of CPU per span, on the thread every put waits for: export on cut a cluster's puts/s
// to 0.72-0.81 of export off. Go's and Java's SDKs export from a thread of their own too.
import { randomFillSync } from "node:crypto"
import { Worker } from "node:worker_threads"
import type { NodeId, OpenSpan, SpanKind, SpanOptions, TraceAttributes, TraceParent } from "../env/index.ts"
import { OpenSpans, parseTraceParent, spanAttributes } from "../trace/index.ts"
import { makeSampledDecision, numberFromEnv } from "./otel-sampling.ts"
import {
  contextFlags,
  type EventTuple,
  type ExportWorkerData,
  type FromExportWorker,
  type LinkTuple,
  type ParentTuple,
  type RecordAttributes,
  type SpanContextRecord,
  type SpanTuple,
  type ToExportWorker
} from "./otel-messages.ts"

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

/** Most finished spans waiting on the node's thread; past it new spans are dropped and counted, as the SDK's own queue does. */
const PENDING_SPANS_MAX = 2048
/** Spans handed to the worker in one message, unless the flush timer fires first. */
const BATCH_SPANS = 256
/** How long a finished span may wait on the node's thread before it is handed over. */
const FLUSH_MS = 200
/** Batches handed over and not yet taken by the SDK: a worker that falls behind gets no more until it catches up. */
const BATCHES_IN_FLIGHT_MAX = 4
/** Most events one span keeps unless `OTEL_SPAN_EVENT_COUNT_LIMIT` says otherwise: the SDK's default. */
const EVENTS_PER_SPAN_DEFAULT = 128

/** `OTEL_SPAN_EVENT_COUNT_LIMIT` as the SDK reads it: a number, else the default. */
const eventsPerSpanMax = (env: Readonly<Record<string, string | undefined>>): number => {
  const limit = numberFromEnv(env.OTEL_SPAN_EVENT_COUNT_LIMIT)
  return limit === undefined || limit < 0 ? EVENTS_PER_SPAN_DEFAULT : limit
}

/** Whether every attribute is already a string, finite number or boolean, as OpenTelemetry takes them. */
const allPrimitive = (attributes: TraceAttributes): boolean => {
  for (const key in attributes) {
    const type = typeof attributes[key]
    if (type !== "string" && type !== "boolean" && (type !== "number" || !Number.isFinite(attributes[key]))) return false
  }
  return true
}

/** The attributes as OpenTelemetry takes them (as the simulator converts them), copied only when one needs converting. */
const recordAttributes = (attributes: TraceAttributes): RecordAttributes =>
  allPrimitive(attributes) ? (attributes as RecordAttributes) : spanAttributes(attributes)

/** As many zeros as the longest id (a trace id) has digits: an id is all zeros exactly when this starts with it. */
const ALL_ZEROS = "0".repeat(32)

/**
 * Random ids in hex, drawn from the operating system's random source a pool at a time. The pool
 * is turned into hex once, and each id is a slice of it: converting each id apart, and testing it
 * with a regular expression, took 340 ns an id against 80-120 (measured standalone).
 */
class RandomHex {
  private readonly pool = Buffer.allocUnsafe(4096)
  private hex = ""
  private offset = 0

  /** `bytes` random bytes as hex, never all zeros (an invalid id in OpenTelemetry). */
  take(bytes: number): string {
    const length = bytes * 2
    for (;;) {
      if (this.offset + length > this.hex.length) {
        randomFillSync(this.pool)
        this.hex = this.pool.toString("hex")
        this.offset = 0
      }
      const id = this.hex.slice(this.offset, this.offset + length)
      this.offset += length
      if (!ALL_ZEROS.startsWith(id)) return id
    }
  }
}

/** A span context from a traceparent, or undefined when there is none or it is malformed. */
const contextOf = (traceparent: string | undefined, remote: boolean): SpanContextRecord | undefined => {
  const ids = parseTraceParent(traceparent)
  return ids === undefined ? undefined : { traceId: ids.traceId, spanId: ids.spanId, sampled: ids.sampled, remote }
}

/**
 * The wall clock in milliseconds since the Unix epoch, with the monotonic clock's resolution. The
 * offset between the two is read again at every hand-over to the worker, so a long run follows
 * the wall clock (a step of it, time the machine spent suspended) as the SDK's own spans do.
 */
let wallOffsetMs = Date.now() - performance.now()
const nowUnixMs = (): number => wallOffsetMs + performance.now()
const refreshWallOffset = (): void => {
  wallOffsetMs = Date.now() - performance.now()
}

/** Finished spans on their way to the worker: batched, bounded, and held back while the worker is behind. */
class SpanPipe {
  private pending: Array<SpanTuple> = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private inFlight = 0
  private broken = false
  dropped = 0

  /** `behind` is called at the first span dropped while the worker runs, so the loss is said when it starts, not only at the end. */
  constructor(private readonly worker: Worker, private readonly behind: () => void) {}

  push(span: SpanTuple): void {
    if (this.broken || this.pending.length >= PENDING_SPANS_MAX) {
      if (this.dropped++ === 0 && !this.broken) this.behind()
      return
    }
    this.pending.push(span)
    if (this.pending.length >= BATCH_SPANS && this.inFlight < BATCHES_IN_FLIGHT_MAX) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref()
  }

  /**
   * Hands what is pending to the worker, at most BATCH_SPANS a message (one message never fills
   * the SDK's own queue), while fewer than BATCHES_IN_FLIGHT_MAX are in flight; the rest waits
   * for the worker to take a batch, or for the timer. `final` hands over everything.
   */
  flush(final = false): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    refreshWallOffset()
    while (this.pending.length > 0 && !this.broken && (final || this.inFlight < BATCHES_IN_FLIGHT_MAX)) {
      this.send({ _tag: "Spans", spans: JSON.stringify(this.pending.splice(0, BATCH_SPANS)) })
      this.inFlight++
    }
    if (this.pending.length > 0 && !this.broken) this.timer = setTimeout(() => this.flush(), FLUSH_MS).unref()
  }

  taken(): void {
    this.inFlight--
    if (this.pending.length >= BATCH_SPANS) this.flush()
  }

  /** The worker is gone: nothing more is sent, and what would have been is counted as dropped. */
  break(): void {
    this.broken = true
    this.dropped += this.pending.length
    this.pending = []
  }

  send(message: ToExportWorker): void {
    if (!this.broken) this.worker.postMessage(message)
  }
}

/** What every span of one node shares. */
interface NodeSpanContext {
  readonly pipe: SpanPipe
  readonly active: OpenSpans<OpenSpan>
  readonly ids: RandomHex
  readonly sampled: (parent: SpanContextRecord | undefined, traceId: string) => boolean
  readonly eventsMax: number
}

/** A span the node has started: ids and start time now, everything else when it ends. */
class RecordedSpan implements OpenSpan {
  readonly traceparent: TraceParent
  private readonly events: Array<EventTuple> = []
  private readonly startUnixMs = nowUnixMs()
  private ended = false

  constructor(
    private readonly node: NodeSpanContext,
    private readonly name: string,
    private readonly kind: number,
    private readonly context: SpanContextRecord,
    private readonly parent: ParentTuple | null,
    private readonly links: ReadonlyArray<LinkTuple>,
    private readonly attributes: TraceAttributes
  ) {
    this.traceparent = `00-${context.traceId}-${context.spanId}-0${context.sampled ? 1 : 0}`
  }

  event(name: string, attributes: TraceAttributes): void {
    if (this.ended || !this.context.sampled || this.node.eventsMax === 0) return
    // As the SDK does: past the limit, the oldest event makes room.
    if (this.events.length >= this.node.eventsMax) this.events.shift()
    this.events.push([name, recordAttributes(attributes), nowUnixMs()])
  }

  end(outcome: "ok" | "error" = "ok"): void {
    if (this.ended) return
    this.ended = true
    this.node.active.remove(this)
    if (!this.context.sampled) return
    const { traceId, spanId } = this.context
    const attributes = recordAttributes(this.attributes)
    this.node.pipe.push([this.name, this.kind, traceId, spanId, this.parent, this.links, attributes, this.events, this.startUnixMs, nowUnixMs(), outcome === "error" ? 1 : 0])
  }
}

const NO_LINKS: ReadonlyArray<LinkTuple> = []

const startSpan = (node: NodeSpanContext, name: string, attributes: TraceAttributes, options?: SpanOptions, parentSpan?: OpenSpan): OpenSpan => {
  // A parent passed in options may come from a message (another process): it counts as remote, as
  // before the worker; the active span a span nests in is this node's own.
  const parent = options?.parent !== undefined ? contextOf(options.parent, true) : contextOf(parentSpan?.traceparent, false)
  let links: Array<LinkTuple> | undefined
  for (const link of options?.links ?? []) {
    const context = contextOf(link, true)
    if (context !== undefined) (links ??= []).push([context.traceId, context.spanId, contextFlags(context)])
  }
  const traceId = parent?.traceId ?? node.ids.take(16)
  const context: SpanContextRecord = { traceId, spanId: node.ids.take(8), sampled: node.sampled(parent, traceId), remote: false }
  // A parent's trace id is the span's own (above), so it travels once.
  const parentTuple: ParentTuple | null = parent === undefined ? null : [parent.spanId, contextFlags(parent)]
  return new RecordedSpan(node, name, OTEL_KIND[options?.kind ?? "internal"], context, parentTuple, links ?? NO_LINKS, attributes)
}

/** A started export worker, and whether it hands spans straight to the SDK's span processors (`Ready`'s `direct`). */
export interface StartedExportWorker {
  readonly worker: Worker
  readonly direct: boolean
}

/**
 * Starts the export worker and waits until its SDK is up, or rejects with why it could not start.
 * Internal to the real world (the tests start workers with it); nodes start theirs through
 * {@link startOtelExport}.
 */
export const startExportWorker = (data: ExportWorkerData, env: Readonly<Record<string, string | undefined>>): Promise<StartedExportWorker> => {
  const here = import.meta.url
  const options = { workerData: data, env: { ...env } }
  // Compiled, the worker is otel-worker.js beside this file. Run from source, it is otel-worker.ts,
  // and tsx must be registered in the worker first: a worker inherits no loader registered at run time.
  const worker = here.endsWith(".ts")
    ? new Worker(
      `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))})` +
        `.then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL("./otel-worker.ts", here).href)}) })`,
      { ...options, eval: true }
    )
    : new Worker(new URL("./otel-worker.js", here), options)
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromExportWorker) => {
      if (message._tag === "Ready") resolve({ worker, direct: message.direct })
      else if (message._tag === "Failed") {
        void worker.terminate()
        reject(new Error(message.message))
      }
      if (message._tag === "Ready" || message._tag === "Failed") settle()
    }
    const onError = (error: Error) => {
      settle()
      reject(error)
    }
    const onExit = (code: number) => {
      settle()
      reject(new Error(`the export worker stopped with code ${code} before it started`))
    }
    const settle = () => {
      worker.off("message", onMessage)
      worker.off("error", onError)
      worker.off("exit", onExit)
    }
    worker.on("message", onMessage)
    worker.on("error", onError)
    worker.on("exit", onExit)
  })
}

/**
 * Starts the OpenTelemetry SDK (`@opentelemetry/sdk-node`, on a worker thread) when
 * {@link otelTracesConfigured}, else returns undefined. sdk-node rather than sdk-trace-base and
 * one exporter: it reads every standard variable itself (exporter choice, OTLP protocol,
 * endpoint, headers, batching, sampling, resource attributes), so Faultline adds no configuration
 * of its own. Metrics and logs stay off: only traces are asked for. The SDK is loaded only there,
 * so a node that exports nothing never loads it. `log` takes one line when spans are lost (the
 * worker stopped, or fell behind).
 */
export const startOtelExport = async (
  resource: OtelResource,
  env: Readonly<Record<string, string | undefined>> = process.env,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)
): Promise<OtelExport | undefined> => {
  if (!otelTracesConfigured(env)) return undefined
  const sampled = await makeSampledDecision(env)
  // Nothing is awaited from here until the listeners below are on the worker, so none of its
  // events can go unheard.
  const { worker, direct } = await startExportWorker({ node: resource.node, cluster: resource.cluster, protocol: resource.protocol }, env)
  if (!direct) log(`${resource.node}: span export: the SDK's span processors are not where this version of sdk-node keeps them; spans go through its tracer, at more CPU a span`)
  const pipe = new SpanPipe(worker, () => log(`${resource.node}: span export: the export worker is behind and spans are being dropped (said once; the count comes when the node stops)`))
  let stopped: ((error: string | undefined) => void) | undefined
  worker.on("message", (message: FromExportWorker) => {
    if (message._tag === "Taken") pipe.taken()
    else if (message._tag === "Stopped") stopped?.(message.error)
  })
  let dead = false
  const gone = (why: string) => {
    if (dead) return
    dead = true
    if (stopped === undefined) log(`${resource.node}: span export: the export worker ${why}; spans are no longer exported`)
    pipe.break()
    stopped?.(undefined)
  }
  worker.on("error", (error) => gone(`failed: ${error.message}`))
  worker.on("exit", (code) => gone(`stopped with code ${code}`))
  // After the listeners: adding a message listener refs a worker again. A node that stops without
  // a shutdown (a start-up failure after this) must not be kept alive by its export.
  worker.unref()
  const ids = new RandomHex()
  const eventsMax = eventsPerSpanMax(env)
  return {
    forNode: () => {
      const node: NodeSpanContext = { pipe, active: new OpenSpans<OpenSpan>(), ids, sampled, eventsMax }
      return {
        enabled: true,
        start: (name, attributes, options) => startSpan(node, name, attributes, options),
        startActive: (name, attributes) => {
          const span = startSpan(node, name, attributes, undefined, node.active.innermost())
          node.active.add(span)
          return span
        },
        event: (name, attributes) => node.active.innermost()?.event(name, attributes)
      }
    },
    shutdown: async () => {
      // The wait for the worker's last export must keep the process alive.
      worker.ref()
      pipe.flush(true)
      // A worker that already died has nothing to flush, and would never answer.
      const error = dead ? undefined : await new Promise<string | undefined>((resolve) => {
        stopped = resolve
        pipe.send({ _tag: "Shutdown" })
      })
      stopped = () => {}
      await worker.terminate()
      if (pipe.dropped > 0) log(`${resource.node}: span export: ${pipe.dropped} spans dropped (the export worker fell behind or stopped)`)
      if (error !== undefined) throw new Error(error)
    }
  }
}
