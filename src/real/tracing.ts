// The Tracing service of a real node: JSON Lines in a per-node file, in the trace schema the simulator writes too (src/trace), so the same checkers read both.
import { writeSync } from "node:fs"
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

/** Most bytes a trace may hold before they are written; lines beyond it are dropped and counted, not buffered. */
const PENDING_BYTES_MAX = 64 * 1024 * 1024

/** An open trace file. Lines are written at the end of each turn of the event loop; `close` writes the rest. */
export interface TraceFile {
  readonly write: (line: TraceLine) => void
  /** Lines dropped because the file could not take them. */
  readonly dropped: () => number
  readonly close: () => Effect.Effect<void>
}

/**
 * Opens (appending to) the trace file at `path`; a restarted node adds its lines after the last
 * incarnation's. The lines of one turn of the event loop go out in one write, made on the node's
 * own thread: a write to the page cache (a trace is never synced) takes microseconds, while a
 * write through Node's thread pool costs two thread wake-ups, the second of them the node's own
 * thread, which on a busy machine waits for a core each time (see "Real clusters" in the README).
 */
export const openTraceFile = (path: string): Effect.Effect<TraceFile, TraceFileError> =>
  Effect.gen(function*() {
    // Opened here, so a bad path is an error now and not an event later.
    const handle = yield* Effect.tryPromise({
      try: () => open(path, "a"),
      catch: (error) => new TraceFileError({ file: path, reason: `cannot open trace file ${path} (${(error as Error).message})` })
    })
    let pending: Array<string> = []
    let pendingBytes = 0
    let dropped = 0
    let failure: string | undefined
    let flushScheduled = false
    let closed = false
    const flush = () => {
      flushScheduled = false
      if (pending.length === 0) return
      const text = pending.join("")
      pending = []
      pendingBytes = 0
      if (failure !== undefined) return
      try {
        const bytes = Buffer.from(text, "utf8")
        // The file is open for appending, so a short write is the disk refusing more: stop there.
        if (writeSync(handle.fd, bytes) < bytes.length) failure = "short write (is the disk full?)"
      } catch (error) {
        failure = (error as Error).message
      }
    }
    return {
      write: (line) => {
        const text = formatTraceLine(line) + "\n"
        if (closed || failure !== undefined || pendingBytes + text.length > PENDING_BYTES_MAX) {
          dropped++
          return
        }
        pending.push(text)
        pendingBytes += text.length
        if (!flushScheduled) {
          flushScheduled = true
          setImmediate(flush)
        }
      },
      dropped: () => dropped,
      close: () =>
        Effect.promise(async () => {
          if (closed) return
          flush()
          closed = true
          await handle.close().catch(() => undefined)
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
