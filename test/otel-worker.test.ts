// A real node's span export on its worker thread: the spans a node marks sampled are exactly the ones the SDK exports, and the hand-over to the worker is bounded.
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { getPriority } from "node:os"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { startOtelExport } from "../src/real/index.ts"
import type { FromExportWorker, SpanTuple } from "../src/real/otel-messages.ts"
import { makeSampledDecision } from "../src/real/otel-sampling.ts"
import { startExportWorker } from "../src/real/otel.ts"
import { type ReceivedSpan, startReceiver } from "./fixtures/otlp-receiver.ts"

/** How far a span's wall-clock stamp may sit from `Date.now()` read around it (see the check of start times). */
const WALL_CLOCK_SLACK_MS = 50

const receiver = await startReceiver()

afterAll(() => {
  receiver.server.close()
})

/** An environment that exports OTLP/HTTP JSON to the receiver and nothing else: the test's own OTEL_* variables are left out. */
const exportEnv = (extra: Record<string, string>): Record<string, string | undefined> => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_"))),
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
  OTEL_BSP_SCHEDULE_DELAY: "50",
  ...extra
})

const spanIdOf = (traceparent: string): string => traceparent.split("-")[2]!

/** Hands `spans` to an export worker of its own, as a node would, and returns what the receiver got from it once it stopped. */
const exportThroughWorker = async (
  throughTracer: boolean,
  env: Record<string, string | undefined>,
  spans: ReadonlyArray<SpanTuple>
): Promise<{ readonly direct: boolean; readonly received: Array<ReceivedSpan> }> => {
  const before = receiver.spans.length
  const { worker, direct } = await startExportWorker({ node: "replay-node", cluster: "c", protocol: "raft", throughTracer }, env)
  const stopped = new Promise<string | undefined>((resolve) =>
    worker.on("message", (message: FromExportWorker) => {
      if (message._tag === "Stopped") resolve(message.error)
    }))
  worker.postMessage({ _tag: "Spans", spans: JSON.stringify(spans) })
  worker.postMessage({ _tag: "Shutdown" })
  expect(await stopped).toBeUndefined()
  await worker.terminate()
  return { direct, received: receiver.spans.slice(before) }
}

const TRACE = "0af7651916cd43dd8448eb211c80319c"
const OTHER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
/** Spans as a node hands them over, one of each shape a node makes, with fixed ids and times (Unix ms with fractions, which the SDK rounds to nanoseconds its own way: 130.001 becomes 130.000977). */
const handedOver: ReadonlyArray<SpanTuple> = [
  ["client.request", 2, TRACE, "00f067aa0ba902b7", null, [], { "client.id": "c1", "kv.operation": "Put", "kv.key": "k" }, [], 1764633600123.25, 1764633600131.5, 0],
  [
    "raft.propose", 1, TRACE, "00f067aa0ba902b8", ["00f067aa0ba902b7", 1], [], { "raft.index": 7, "raft.term": 2, ratio: 0.5, leader: true },
    [["apply", { "raft.index": 7 }, 1764633600130.001]], 1764633600124.5, 1764633600130.75, 1
  ],
  [
    "raft.handleAppend", 4, TRACE, "00f067aa0ba902b9", ["00f067aa0ba902b8", 3], [[OTHER_TRACE, "b7ad6b7169203331", 3], [OTHER_TRACE, "b7ad6b7169203332", 2]],
    { "raft.leader": "n1", "": "no name", long: "a long value" }, [["persisted", {}, 1764633600126.5], ["apply", { a: 1, b: "two", c: false }, 1764633600127]],
    1764633600125.125, 1764633600128, 0
  ],
  // The wall clock stepped back between start and end.
  ["storage.sync", 0, TRACE, "00f067aa0ba902ba", ["00f067aa0ba902b9", 1], [], { "raft.entries": 1 }, [], 1764633600129, 1764633600128.5, 0]
]
const sampledFlag = (traceparent: string): boolean => traceparent.endsWith("-01")

describe("span export on a worker thread", () => {
  it("exports exactly the spans the node marked sampled, with a ratio sampler, local and remote parents", async () => {
    // Set up: half the traces sampled by trace id, as OTEL_TRACES_SAMPLER asks.
    const exported = await startOtelExport(
      { node: "sampling-node", cluster: "c", protocol: "raft" },
      exportEnv({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" })
    )
    const spans = exported!.forNode()
    const marked = new Map<string, { sampled: boolean; parent?: string }>()
    const startedMs = Date.now()

    // Act: 200 roots, each with a child; a span under a remote unsampled parent and one under a sampled one.
    for (let index = 0; index < 200; index++) {
      const root = spans.start("test.root", { index })
      const child = spans.start("test.child", { index, nested: { deep: true } }, { parent: root.traceparent })
      child.event("test.event", { index })
      child.end()
      root.end()
      marked.set(spanIdOf(root.traceparent), { sampled: sampledFlag(root.traceparent) })
      marked.set(spanIdOf(child.traceparent), { sampled: sampledFlag(child.traceparent), parent: spanIdOf(root.traceparent) })
    }
    const unsampledRemote = spans.start("test.remote", {}, { parent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00" })
    const sampledRemote = spans.start("test.remote", {}, { parent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203332-01" })
    unsampledRemote.end()
    sampledRemote.end()
    await exported!.shutdown()

    // Check: the sampler sampled some traces and not others; a child follows its parent.
    const sampledRoots = [...marked.values()].filter((mark) => mark.parent === undefined && mark.sampled).length
    expect(sampledRoots).toBeGreaterThan(50)
    expect(sampledRoots).toBeLessThan(150)
    for (const mark of marked.values()) if (mark.parent !== undefined) expect(mark.sampled).toBe(marked.get(mark.parent)!.sampled)
    expect(sampledFlag(unsampledRemote.traceparent)).toBe(false)
    expect(sampledFlag(sampledRemote.traceparent)).toBe(true)
    // Check: the receiver got the sampled spans and no other, each child under its root, times from the wall clock.
    const received = receiver.spans.filter((span) => span.service === "sampling-node")
    const expected = [...marked].filter(([, mark]) => mark.sampled).map(([spanId]) => spanId).concat(spanIdOf(sampledRemote.traceparent))
    expect(received.map((span) => span.spanId).sort()).toEqual(expected.sort())
    for (const span of received) {
      const parent = marked.get(span.spanId)?.parent
      if (parent !== undefined) expect(span.parentSpanId).toBe(parent)
      // A node stamps spans with the monotonic clock plus an offset to the wall clock that it reads
      // again at each hand-over to the worker (otel.ts), so a stamp can trail a step of the wall
      // clock by a little: a run under load on this VM read 2 ms before `startedMs`. Simulated
      // time or a zero origin would be off by years.
      const start = Number(BigInt(span.startTimeUnixNano) / 1_000_000n)
      expect(start).toBeGreaterThanOrEqual(startedMs - WALL_CLOCK_SLACK_MS)
      expect(start).toBeLessThanOrEqual(Date.now() + WALL_CLOCK_SLACK_MS)
      expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true)
    }
    const child = received.find((span) => span.name === "test.child")!
    expect(child.attributes.find((attribute) => attribute.key === "nested")?.value).toEqual({ stringValue: "{\"deep\":true}" })
  })

  it("exports a parent from a message as remote and the node's own active span as local", async () => {
    // Set up: every span sampled.
    const exported = await startOtelExport({ node: "remote-node", cluster: "c", protocol: "raft" }, exportEnv({}))
    const spans = exported!.forNode()

    // Act: a span under a parent another process sent, and a span nested in this node's own active span.
    const fromMessage = spans.start("test.from-message", {}, { parent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" })
    fromMessage.end()
    const outer = spans.startActive("test.outer", {})
    const inner = spans.startActive("test.inner", {})
    inner.end()
    outer.end()
    await exported!.shutdown()

    // Check: OTLP says whether each parent was remote (HAS_IS_REMOTE 0x100 always; IS_REMOTE 0x200 only for the message's).
    const received = receiver.spans.filter((span) => span.service === "remote-node")
    const flagsOf = (name: string) => received.find((span) => span.name === name)!.flags!
    expect(received.find((span) => span.name === "test.inner")!.parentSpanId).toBe(spanIdOf(outer.traceparent))
    expect(flagsOf("test.from-message") & 0x300).toBe(0x300)
    expect(flagsOf("test.inner") & 0x300).toBe(0x100)
  })

  it("runs the SDK at the lowest scheduling priority, so the node's own thread goes first", async () => {
    // Set up: each of this process's threads and its niceness, as Linux lists them.
    const nicenessOfThreads = (): Map<string, number> => {
      const threads = new Map<string, number>()
      for (const thread of readdirSync("/proc/self/task")) {
        try {
          const stat = readFileSync(`/proc/self/task/${thread}/stat`, "utf8")
          threads.set(thread, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]))
        } catch {
          // The thread ended meanwhile.
        }
      }
      return threads
    }
    const before = nicenessOfThreads()
    const ownBefore = getPriority()

    // Act: start an export, which starts its worker.
    const exported = await startOtelExport({ node: "nice-node", cluster: "c", protocol: "raft" }, exportEnv({}))
    const started = [...nicenessOfThreads()].filter(([thread]) => !before.has(thread))
    await exported!.shutdown()

    // Check: exactly one of the threads the export started runs at nineteen (the worker; the others
    // are V8's and keep the node's priority, unless the test itself runs at nineteen), and this
    // thread's own priority is unchanged.
    const atNineteen = started.filter(([, niceness]) => niceness === 19).length
    expect(atNineteen).toBe(ownBefore === 19 ? started.length : 1)
    expect(atNineteen).toBeGreaterThan(0)
    expect(getPriority()).toBe(ownBefore)
  })

  it("holds at most a bounded backlog for a worker that is behind, and says how many spans it dropped", async () => {
    // Set up: the SDK's own queue large enough that only the node's hand-over can drop.
    const lines: Array<string> = []
    const exported = await startOtelExport(
      { node: "backlog-node", cluster: "c", protocol: "raft" },
      exportEnv({ OTEL_BSP_MAX_QUEUE_SIZE: "10000" }),
      (line) => lines.push(line)
    )
    const spans = exported!.forNode()

    // Act: 5,000 spans in one turn of the event loop, so the worker takes none of them meanwhile.
    for (let index = 0; index < 5000; index++) spans.start("test.burst", { index }).end()
    await exported!.shutdown()

    // Check: four batches of 256 in flight, 2,048 waiting, the rest dropped: said when it started, and counted at the end.
    expect(receiver.spans.filter((span) => span.service === "backlog-node")).toHaveLength(4 * 256 + 2048)
    expect(lines).toEqual([
      "backlog-node: span export: the export worker is behind and spans are being dropped (said once; the count comes when the node stops)",
      "backlog-node: span export: 1928 spans dropped (the export worker fell behind or stopped)"
    ])
  })

  it("reads OTEL_TRACES_SAMPLER as the SDK does: a name with spaces is unknown, so the default", async () => {
    // Set up, act: names the SDK takes as they are, untrimmed.
    const padded = await makeSampledDecision({ OTEL_TRACES_SAMPLER: " always_off" })
    const exact = await makeSampledDecision({ OTEL_TRACES_SAMPLER: "always_off" })
    const unsampledParent = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", sampled: false, remote: true }

    // Check: the padded name is the default (parent-based, roots sampled); the exact one samples nothing.
    expect(padded(undefined, unsampledParent.traceId)).toBe(true)
    expect(padded(unsampledParent, unsampledParent.traceId)).toBe(false)
    expect(exact(undefined, unsampledParent.traceId)).toBe(false)
  })

  it("hands spans straight to the SDK's processors, exporting field by field what its tracer exports", async () => {
    // Set up, act: the same hand-over to a worker that records through the SDK's tracer and to one that does not.
    const throughTracer = await exportThroughWorker(true, exportEnv({}), handedOver)
    const direct = await exportThroughWorker(false, exportEnv({}), handedOver)

    // Check: the installed SDK's span processors were found (an upgrade that moves them fails here), and every field matches.
    expect(throughTracer.direct).toBe(false)
    expect(direct.direct).toBe(true)
    expect(direct.received).toEqual(throughTracer.received)
    // Check: and those fields are the node's: kinds, parents (remote or not), links, events, status, times to the nanosecond.
    const [request, propose, handle, sync] = direct.received
    expect(direct.received.map((span) => [span.name, span.kind, span.parentSpanId ?? "", span.flags])).toEqual([
      ["client.request", 3, "", 0x101],
      ["raft.propose", 2, "00f067aa0ba902b7", 0x101],
      ["raft.handleAppend", 5, "00f067aa0ba902b8", 0x301],
      ["storage.sync", 1, "00f067aa0ba902b9", 0x101]
    ])
    expect([request!.startTimeUnixNano, request!.endTimeUnixNano]).toEqual(["1764633600123250000", "1764633600131500000"])
    expect([propose!.startTimeUnixNano, propose!.status]).toEqual(["1764633600124500000", { code: 2 }])
    expect(propose!.events).toEqual([{ timeUnixNano: "1764633600130000977", name: "apply", attributes: [{ key: "raft.index", value: { intValue: 7 } }], droppedAttributesCount: 0 }])
    expect(handle!.links!.map((link) => [link.spanId, link.flags])).toEqual([["b7ad6b7169203331", 0x301], ["b7ad6b7169203332", 0x300]])
    expect(handle!.attributes.map((attribute) => attribute.key)).toEqual(["raft.leader", "long"])
    expect([sync!.startTimeUnixNano, sync!.endTimeUnixNano]).toEqual(["1764633600129000000", "1764633600129000000"])
    expect(sync!.scope).toEqual({ name: "faultline" })
    expect(sync!.resource.find((attribute) => attribute.key === "faultline.protocol")?.value).toEqual({ stringValue: "raft" })
  })

  it("applies the span limits the environment sets, as the SDK's own spans do", async () => {
    // Set up: every limit low enough that the spans above break it.
    const env = exportEnv({
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "2",
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "3",
      OTEL_SPAN_EVENT_COUNT_LIMIT: "1",
      OTEL_SPAN_LINK_COUNT_LIMIT: "1",
      OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT: "1"
    })

    // Act: the same spans both ways.
    const throughTracer = await exportThroughWorker(true, env, handedOver)
    const direct = await exportThroughWorker(false, env, handedOver)

    // Check: the same export, and it is limited: attributes cut and counted, the oldest event and link dropped.
    expect(direct.direct).toBe(true)
    expect(direct.received).toEqual(throughTracer.received)
    const handle = direct.received.find((span) => span.name === "raft.handleAppend")!
    expect(handle.attributes).toEqual([{ key: "raft.leader", value: { stringValue: "n1" } }, { key: "long", value: { stringValue: "a l" } }])
    expect([handle.droppedEventsCount, handle.droppedLinksCount]).toEqual([1, 1])
    expect(handle.events!.map((event) => [event.name, event.droppedAttributesCount])).toEqual([["apply", 2]])
    expect(handle.links!.map((link) => link.spanId)).toEqual(["b7ad6b7169203332"])
    expect(direct.received.find((span) => span.name === "raft.propose")!.droppedAttributesCount).toBe(2)
  })

  it("with an exporter the SDK does not know, exports nothing and says nothing about its span processors", async () => {
    // Set up: an exporter name sdk-node does not recognize, so it configures no tracer provider.
    const lines: Array<string> = []
    const before = receiver.spans.length
    const exported = await startOtelExport({ node: "unknown-exporter-node", cluster: "c", protocol: "raft" }, exportEnv({ OTEL_TRACES_EXPORTER: "unknown" }), (line) => lines.push(line))

    // Act: a span, then a shutdown that flushes.
    exported!.forNode().start("test.unknown", { index: 1 }).end()
    await exported!.shutdown()

    // Check: nothing reached the receiver, and the node logged no line.
    expect(receiver.spans.length).toBe(before)
    expect(lines).toEqual([])
  })

  it("a process that exports and never shuts the export down still exits: the worker keeps nothing alive", () => {
    // Set up: the compiled package, as a node runs it.
    const entry = pathToFileURL(resolve("dist/real/index.js")).href
    const env = exportEnv({})
    const script = `import(${JSON.stringify(entry)}).then(async (real) => {
      const exported = await real.startOtelExport({ node: "exiting-node", cluster: "c", protocol: "raft" }, ${JSON.stringify(env)})
      exported.forNode().start("test.exit", {}).end()
    })`

    // Act: run it; a process kept alive would be killed at the timeout (status null).
    const result = spawnSync(process.execPath, ["-e", script], { timeout: 20_000, encoding: "utf8" })

    // Check: it ended on its own, without an error.
    expect(result.stderr).toBe("")
    expect(result.status).toBe(0)
  })
})
