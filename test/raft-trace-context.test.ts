// The storage.sync span of a Ready that persists a traced write: started when its sync starts, ended ok once it is done, failed if it fails.
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { Envelope, OpenSpan, SpanOptions, Spans, TraceAttributes } from "../src/env/index.ts"
import type { Raft } from "../src/protocols/raft/raft.ts"
import { makeRaftTraceContext } from "../src/protocols/raft/trace-context.ts"
import type { Entry, Ready } from "../src/protocols/raft/types.ts"

interface Recorded {
  readonly name: string
  readonly options: SpanOptions | undefined
  outcome: "ok" | "error" | undefined
}

/** Spans that remember how each one started and ended: the trace context is what is under test. */
const recordingSpans = (): { readonly spans: Spans; readonly recorded: Array<Recorded> } => {
  const recorded: Array<Recorded> = []
  const spans: Spans = {
    enabled: true,
    start: (name: string, _attributes: TraceAttributes, options?: SpanOptions): OpenSpan => {
      const span: Recorded = { name, options, outcome: undefined }
      recorded.push(span)
      const traceparent = `00-0af7651916cd43dd8448eb211c80319c-${recorded.length.toString(16).padStart(16, "0")}-01`
      return { traceparent, event: () => {}, end: (outcome = "ok") => (span.outcome ??= outcome) }
    }
  }
  return { spans, recorded }
}

const CLIENT_SPAN = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
const entry: Entry = { index: 1, term: 1, command: { _tag: "Kv", clientId: "c1", sequence: 1, operation: { _tag: "Put", key: "k", value: 1 } } }
/** The leader's core right after it appended the client's write, as far as the trace context looks. */
const raft = { lastIndex: 1, entries: () => [entry] } as unknown as Raft
const request: Envelope = {
  from: "c1",
  message: { _tag: "ClientRequest", requestId: "c1:1:0", clientId: "c1", sequence: 1, operation: { _tag: "Put", key: "k", value: 1 } },
  traceparent: CLIENT_SPAN
}
const ready: Ready = { entries: [entry], messages: [], committedEntries: [], readStates: [] }

describe("Raft trace context: storage.sync", () => {
  it("starts the span when the sync starts, parented by the write's span, and ends it ok once synced", () => {
    const { spans, recorded } = recordingSpans()
    const context = makeRaftTraceContext(spans)
    context.stepped(request, raft)
    expect(recorded.map((span) => span.name)).toEqual(["raft.propose"])
    const persisting = context.persisting(ready, Effect.void)
    expect(recorded).toHaveLength(1)
    Effect.runSync(persisting)
    const sync = recorded[1]!
    expect(sync.name).toBe("storage.sync")
    expect(sync.options?.parent).toMatch(/-0000000000000001-01$/)
    expect(sync.outcome).toBeUndefined()
    context.synced()
    expect(sync.outcome).toBe("ok")
    // A Ready that persisted nothing traced has no sync span to end.
    context.synced()
    expect(recorded).toHaveLength(2)
  })

  it("ends the span failed when the sync fails, and the failure goes on", () => {
    const { spans, recorded } = recordingSpans()
    const context = makeRaftTraceContext(spans)
    context.stepped(request, raft)
    const exit = Effect.runSyncExit(context.persisting(ready, Effect.fail("disk full")))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(recorded[1]).toMatchObject({ name: "storage.sync", outcome: "error" })
    context.synced()
    expect(recorded[1]!.outcome).toBe("error")
  })
})
