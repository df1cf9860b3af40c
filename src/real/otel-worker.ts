// The OpenTelemetry SDK of a real node, on a worker thread: it takes the spans the node finished and records and exports them, so the SDK's work (batching, OTLP encoding, posting) never holds up the node's own thread.
import type { ContextManager } from "@opentelemetry/api"
import type { IdGenerator } from "@opentelemetry/sdk-trace-base"
import { readlinkSync } from "node:fs"
import { setPriority } from "node:os"
import { parentPort, workerData } from "node:worker_threads"
import type { ExportWorkerData, FromExportWorker, SpanTuple, ToExportWorker } from "./otel-messages.ts"
import type { NextIds } from "./otel-replay.ts"

/**
 * The export's niceness: the lowest priority there is. Linux ranks a thread's niceness against the
 * other threads of its scheduling group (with autogroups on, the node's session), so this puts the
 * export behind its own node's thread, which is where it competed: measured on a shared two-core
 * machine, five nice steps below the node were not enough (the export took the node's core
 * whenever a batch arrived, mid-put), and nineteen read 0.77 → 0.83 and 0.81 → 0.88 on/off (1 and
 * 16 clients, both cores busy with other work), no span dropped. V8's background threads, which
 * collect and compile for every thread of the process, keep the node's priority.
 */
const EXPORT_NICENESS = 19

/**
 * Lowers this thread's scheduling priority to {@link EXPORT_NICENESS}, so that the node's own
 * thread goes first and the export takes what is left (the hand-over to it is bounded, and spans
 * past the bound are dropped and counted). Linux names a thread by its id in /proc/thread-self,
 * and setpriority on that id changes the one thread; raising niceness needs no privilege.
 * Elsewhere the export keeps the node's priority.
 */
const runBehindTheNode = (): void => {
  try {
    const threadId = Number(readlinkSync("/proc/thread-self").split("/").at(-1))
    if (Number.isInteger(threadId) && threadId > 0) setPriority(threadId, EXPORT_NICENESS)
  } catch {
    // No /proc/thread-self (not Linux), or the priority cannot change: export at the node's priority.
  }
}

const post = (message: FromExportWorker): void => parentPort!.postMessage(message)

const main = async (): Promise<void> => {
  runBehindTheNode()
  const data = workerData as ExportWorkerData
  const [{ NodeSDK, core }, { resourceFromAttributes }, api, { makeSpanReplay, makeTracerReplay, sdkSpanSinkOf }] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/api"),
    import("./otel-replay.ts")
  ])
  // The node drew each span's ids when the span started (they travel in its messages at once);
  // the SDK takes them from here, one span at a time.
  const next: NextIds = { traceId: "", spanId: "" }
  const idGenerator: IdGenerator = { generateTraceId: () => next.traceId, generateSpanId: () => next.spanId }
  const sdk = new NodeSDK({
    serviceName: data.node,
    resource: resourceFromAttributes({ "faultline.cluster": data.cluster, "faultline.protocol": data.protocol }),
    idGenerator,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    // Parents are always explicit, so no context manager (the default one hooks every promise),
    // and no global propagator: the context travels in Faultline's envelope, not in headers.
    // sdk-node reads null as "register none", though its type does not say so.
    contextManager: null as unknown as ContextManager,
    textMapPropagator: null
  })
  sdk.start()
  const tracer = api.trace.getTracer("faultline")
  // With no exporter it could configure (OTEL_TRACES_EXPORTER names only unknown ones), sdk-node
  // registers no tracer provider, and the tracer is the API's no-op proxy: nothing is exported,
  // either way.
  const exportsNothing = tracer instanceof api.ProxyTracer
  const sink = data.throughTracer === true || exportsNothing ? undefined : sdkSpanSinkOf(tracer)
  const record = exportsNothing ? () => {} : sink === undefined ? makeTracerReplay(tracer, next) : makeSpanReplay(sink, core)

  parentPort!.on("message", (message: ToExportWorker) => {
    switch (message._tag) {
      case "Spans":
        for (const span of JSON.parse(message.spans) as Array<SpanTuple>) record(span)
        post({ _tag: "Taken" })
        return
      case "Shutdown":
        sdk.shutdown().then(
          () => post({ _tag: "Stopped", error: undefined }),
          (error: unknown) => post({ _tag: "Stopped", error: error instanceof Error ? error.message : String(error) })
        )
        return
      default: {
        const unexpected: never = message
        throw new Error(`unexpected message ${JSON.stringify(unexpected)}`)
      }
    }
  })
  post({ _tag: "Ready", direct: sink !== undefined || exportsNothing })
}

main().catch((error: unknown) => post({ _tag: "Failed", message: error instanceof Error ? error.message : String(error) }))
