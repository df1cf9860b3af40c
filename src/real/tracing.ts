// The Tracing service of a real node: JSON Lines in a per-node file, in the trace schema the simulator writes too (src/trace), so the same checkers read both.
import type { WriteStream } from "node:fs"
import { open } from "node:fs/promises"
import { Data, Effect, Exit } from "effect"
import type { ProtocolEvent } from "../check/checker.ts"
import { disabledSpans, type NodeId, Tracing } from "../env/index.ts"
import { formatTraceLine, type TraceLine } from "../trace/index.ts"
import type { ExportedNodeSpans } from "./otel.ts"

/** The trace file could not be opened. */
export class TraceFileError extends Data.TaggedError("TraceFileError")<{
  readonly file: string
  readonly reason: string
}> {}

/** Most bytes a trace may have waiting to reach its file; lines beyond it are dropped and counted, not buffered. */
const PENDING_BYTES_MAX = 64 * 1024 * 1024

/** An open trace file. Lines are appended through a buffered stream; `close` flushes them. */
export interface TraceFile {
  readonly write: (line: TraceLine) => void
  /** Lines dropped because the disk could not keep up. */
  readonly dropped: () => number
  readonly close: () => Effect.Effect<void>
}

/** Opens (appending to) the trace file at `path`; a restarted node adds its lines after the last incarnation's. */
export const openTraceFile = (path: string): Effect.Effect<TraceFile, TraceFileError> =>
  Effect.gen(function*() {
    // Opened here rather than by the stream, so a bad path is an error now and not an event later.
    const handle = yield* Effect.tryPromise({
      try: () => open(path, "a"),
      catch: (error) => new TraceFileError({ file: path, reason: `cannot open trace file ${path} (${(error as Error).message})` })
    })
    const stream: WriteStream = handle.createWriteStream()
    let dropped = 0
    let failure: string | undefined
    let corked = false
    const uncork = () => {
      corked = false
      stream.uncork()
    }
    stream.on("error", (error) => {
      failure = error.message
    })
    return {
      write: (line) => {
        if (failure !== undefined || stream.writableLength > PENDING_BYTES_MAX) {
          dropped++
          return
        }
        // Lines of one turn of the event loop go out in one write: a busy node traces an event
        // per applied entry, and a write each cost a round trip to the thread pool.
        if (!corked) {
          corked = true
          stream.cork()
          setImmediate(uncork)
        }
        stream.write(formatTraceLine(line) + "\n")
      },
      dropped: () => dropped,
      close: () =>
        Effect.callback<void>((resume) => {
          if (failure !== undefined || stream.destroyed) return resume(Effect.void)
          stream.end(() => resume(Effect.void))
        })
    }
  })

/** What the Tracing service needs around it. */
export interface RealTracingOptions {
  readonly self: NodeId
  readonly nowUs: () => number
  readonly trace: TraceFile | undefined
  /** Called with each protocol event as it happens (a live checker, a status endpoint). */
  readonly onEvent?: ((event: ProtocolEvent) => void) | undefined
  /** This node's exported spans, when OpenTelemetry export is on (see `startOtelExport`). */
  readonly spans?: ExportedNodeSpans | undefined
}

/** Makes a node's Tracing service. Events and spans become trace lines; spans nest as the simulator's do. */
export const makeRealTracing = (options: RealTracingOptions): Tracing["Service"] => {
  const { self, nowUs, trace, onEvent, spans } = options
  let spanCount = 0
  return Tracing.of({
    event: (name, attributes) =>
      Effect.sync(() => {
        const t = nowUs()
        const attrs = attributes ?? {}
        trace?.write({ t, e: "event", node: self, name, attrs })
        onEvent?.({ timeUs: t, node: self, name, attributes: attrs })
        spans?.event(name, attrs)
      }),
    spans: spans ?? disabledSpans,
    span: (name, attributes, effect) =>
      Effect.suspend(() => {
        const span = ++spanCount
        const exported = spans?.startActive(name, attributes)
        const t = nowUs()
        trace?.write({ t, e: "span-start", node: self, span, name, attrs: attributes, localMs: t / 1000 })
        return Effect.onExit(effect, (exit) =>
          Effect.sync(() => {
            const end = nowUs()
            const outcome = Exit.isSuccess(exit) ? "ok" : "error"
            exported?.end(outcome)
            trace?.write({ t: end, e: "span-end", node: self, span, outcome, localMs: end / 1000 })
          }))
      })
  })
}
