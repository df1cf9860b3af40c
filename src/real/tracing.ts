// The Tracing service of a real node: JSON Lines in a per-node file, in the simulator's line format, so the same checkers read both.
import type { WriteStream } from "node:fs"
import { open } from "node:fs/promises"
import { Data, Effect, Exit } from "effect"
import type { ProtocolEvent } from "../check/checker.ts"
import { type NodeId, type TraceAttributes, Tracing } from "../env/index.ts"

/** The trace file could not be opened. */
export class TraceFileError extends Data.TaggedError("TraceFileError")<{
  readonly file: string
  readonly reason: string
}> {}

/**
 * One line of a real node's trace. `t` is microseconds on the node's clock (see clock.ts: since
 * the node started, or since a shared origin). `event`, `span-start` and `span-end` lines are
 * exactly the simulator's (src/sim/simulation.ts writes the same keys in the same order), so a
 * checker fed from a real trace sees what it would in a simulated one. `start` opens each
 * incarnation's part of the file; `connection` records what the network logged.
 */
export type TraceLine =
  | { readonly t: number; readonly e: "start"; readonly node: NodeId; readonly pid: number; readonly unixMs: number }
  | { readonly t: number; readonly e: "event"; readonly node: NodeId; readonly name: string; readonly attrs: TraceAttributes }
  | {
    readonly t: number
    readonly e: "span-start"
    readonly node: NodeId
    readonly span: number
    readonly name: string
    readonly attributes: TraceAttributes
    readonly localMs: number
  }
  | { readonly t: number; readonly e: "span-end"; readonly node: NodeId; readonly span: number; readonly outcome: "ok" | "error"; readonly localMs: number }
  | {
    readonly t: number
    readonly e: "connection"
    readonly node: NodeId
    readonly kind: string
    readonly peer: NodeId | null
    readonly address: string
    readonly direction: string
    readonly reason: string | null
  }

/** The JSON text of a trace line (its keys in the order the type lists them). */
export const formatTraceLine = (line: TraceLine): string => JSON.stringify(line)

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
}

/** Makes a node's Tracing service. Events and spans become trace lines; spans nest as the simulator's do. */
export const makeRealTracing = (options: RealTracingOptions): Tracing["Service"] => {
  const { self, nowUs, trace, onEvent } = options
  let spanCount = 0
  return Tracing.of({
    event: (name, attributes) =>
      Effect.sync(() => {
        const t = nowUs()
        const attrs = attributes ?? {}
        trace?.write({ t, e: "event", node: self, name, attrs })
        onEvent?.({ timeUs: t, node: self, name, attributes: attrs })
      }),
    span: (name, attributes, effect) =>
      Effect.suspend(() => {
        const span = ++spanCount
        const t = nowUs()
        trace?.write({ t, e: "span-start", node: self, span, name, attributes, localMs: t / 1000 })
        return Effect.onExit(effect, (exit) =>
          Effect.sync(() => {
            const end = nowUs()
            trace?.write({ t: end, e: "span-end", node: self, span, outcome: Exit.isSuccess(exit) ? "ok" : "error", localMs: end / 1000 })
          }))
      })
  })
}

/**
 * The protocol events of a trace (lines of every kind may be mixed in; only `event` lines count),
 * as checkers take them; or a one-line message naming the first line that is not a valid trace line.
 * Lines of several nodes' files can be concatenated and sorted by `timeUs` when the nodes share a
 * clock origin.
 */
export const parseTraceEvents = (text: string, source: string): Array<ProtocolEvent> | string => {
  const events: Array<ProtocolEvent> = []
  const lines = text.split("\n")
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!
    if (line.trim() === "") continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      // A last line without its newline is one a crash cut short; it carries nothing a checker can trust.
      if (index === lines.length - 1) continue
      return `${source}:${index + 1}: not a JSON trace line`
    }
    const fields = value as Record<string, unknown>
    if (typeof value !== "object" || value === null || typeof fields["t"] !== "number" || typeof fields["e"] !== "string") {
      return `${source}:${index + 1}: a trace line needs a numeric "t" and a string "e"`
    }
    if (fields["e"] !== "event") continue
    const attributes = fields["attrs"]
    if (typeof fields["node"] !== "string" || typeof fields["name"] !== "string" || typeof attributes !== "object" || attributes === null) {
      return `${source}:${index + 1}: an event line needs "node", "name" and "attrs"`
    }
    events.push({ timeUs: fields["t"], node: fields["node"], name: fields["name"], attributes: attributes as TraceAttributes })
  }
  return events
}
