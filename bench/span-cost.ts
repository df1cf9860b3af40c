// What a span costs to record and write as OTLP JSON, in a tight loop: Faultline's simulated export against the OpenTelemetry JS SDK, on the same spans.
//
// Section 9 measures the export inside a run, where its cost is set against the simulator's own
// work and so grows as the simulator gets faster. This measures the export alone, beside the
// SDK that real nodes use, on the spans of client writes in the standard Raft scenario: for each,
// the client's request, the leader's proposal and sync, and for each of three followers an
// append, its handling and the follower's sync (twelve spans), with four events. Faultline's side
// writes into chunk buffers from its pool, warm after the first rounds as in any process that
// exports run after run, and hands the bytes over as pieces; the SDK's ends in one buffer, as
// its exporter sends it. Both are valid OTLP JSON; the SDK's also writes the fields OTLP lets
// Faultline leave out (empty lists, default status, dropped counts), hence its larger spans.
import { context, SpanKind, trace, type Tracer } from "@opentelemetry/api"
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer"
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { Spans } from "../src/env/index.ts"
import { SpanExport } from "../src/sim/span-export.ts"
import { median, medianInterval } from "./median.ts"

/** CPU nanoseconds a span (the medians over the pairs) and bytes a span of each, and the pairs' ratio. */
export interface SpanCost {
  readonly faultlineNsPerSpan: number
  readonly faultlineBytesPerSpan: number
  readonly sdkNsPerSpan: number
  readonly sdkBytesPerSpan: number
  /** The median over the pairs of the SDK's time a span over Faultline's, with a 95% interval. */
  readonly ratio: number
  readonly ratioLow: number
  readonly ratioHigh: number
}

/** Client writes a round: 4,080 spans, a little more than one seed of the standard scenario makes (about 3,400). */
const WRITES = 340
const NODES = ["n1", "n2", "n3", "n4", "n5"]

/** One round through Faultline's export: the spans of `WRITES` writes, then the OTLP JSON. Returns spans and bytes. */
const faultlineRound = (): readonly [spans: number, bytes: number] => {
  let nowUs = 0
  const spanExport = new SpanExport({ cluster: "bench", protocol: "raft", seed: 1 })
  const nodes: ReadonlyArray<Spans> = NODES.map((node) => spanExport.forNode(node, () => nowUs, () => true))
  for (let write = 0; write < WRITES; write++) {
    nowUs += 1000
    const leader = nodes[write % NODES.length]!
    const request = nodes[(write + 1) % NODES.length]!.start("client.request", { "client.id": "c2", "kv.operation": "Append", "kv.key": "k2" }, { kind: "client" })
    const proposal = leader.start("raft.propose", { "raft.index": write, "raft.term": 1, "kv.operation": "Append", "kv.key": "k2" }, { kind: "server", parent: request.traceparent })
    leader.start("storage.sync", { "raft.entries": 1, "raft.firstIndex": write }, { parent: proposal.traceparent }).end()
    for (let follower = 1; follower <= 3; follower++) {
      const node = nodes[(write + follower) % NODES.length]!
      const append = leader.start("raft.append", { "raft.to": "n1", "raft.term": 1, "raft.prevLogIndex": write, "raft.entries": 1 }, { kind: "producer", parent: proposal.traceparent })
      append.end()
      const handling = node.start("raft.handleAppend", { "raft.leader": "n5", "raft.term": 1, "raft.prevLogIndex": write, "raft.entries": 1 }, { kind: "consumer", parent: append.traceparent })
      node.start("storage.sync", { "raft.entries": 1, "raft.firstIndex": write }, { parent: handling.traceparent }).end()
      handling.event("persisted", { lastIndex: write + 1, commitIndex: write })
      handling.end()
    }
    proposal.event("apply", { index: write, term: 1 })
    proposal.end()
    request.end()
  }
  const spans = spanExport.spans
  let bytes = 0
  spanExport.writeOtlp((piece) => {
    bytes += piece.length
  })
  return [spans, bytes]
}

/** The SDK's side: ended spans kept by a processor of its own, the way a batch processor keeps them, then serialized as OTLP JSON. */
const sdkRounds = (): (() => readonly [spans: number, bytes: number]) => {
  let ended: Array<ReadableSpan> = []
  const keep: SpanProcessor = {
    onStart: () => {},
    onEnd: (span) => {
      ended.push(span)
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve()
  }
  const provider = new BasicTracerProvider({ spanProcessors: [keep] })
  const tracers: ReadonlyArray<Tracer> = NODES.map((node) => provider.getTracer(node))
  const root = context.active()
  return () => {
    ended = []
    for (let write = 0; write < WRITES; write++) {
      const leader = tracers[write % NODES.length]!
      const request = tracers[(write + 1) % NODES.length]!.startSpan("client.request", { kind: SpanKind.CLIENT, attributes: { "client.id": "c2", "kv.operation": "Append", "kv.key": "k2" } }, root)
      const proposal = leader.startSpan("raft.propose", { kind: SpanKind.SERVER, attributes: { "raft.index": write, "raft.term": 1, "kv.operation": "Append", "kv.key": "k2" } }, trace.setSpan(root, request))
      const inProposal = trace.setSpan(root, proposal)
      leader.startSpan("storage.sync", { attributes: { "raft.entries": 1, "raft.firstIndex": write } }, inProposal).end()
      for (let follower = 1; follower <= 3; follower++) {
        const node = tracers[(write + follower) % NODES.length]!
        const append = leader.startSpan("raft.append", { kind: SpanKind.PRODUCER, attributes: { "raft.to": "n1", "raft.term": 1, "raft.prevLogIndex": write, "raft.entries": 1 } }, inProposal)
        append.end()
        const handling = node.startSpan("raft.handleAppend", { kind: SpanKind.CONSUMER, attributes: { "raft.leader": "n5", "raft.term": 1, "raft.prevLogIndex": write, "raft.entries": 1 } }, trace.setSpan(root, append))
        node.startSpan("storage.sync", { attributes: { "raft.entries": 1, "raft.firstIndex": write } }, trace.setSpan(root, handling)).end()
        handling.addEvent("persisted", { lastIndex: write + 1, commitIndex: write })
        handling.end()
      }
      proposal.addEvent("apply", { index: write, term: 1 })
      proposal.end()
      request.end()
    }
    const bytes = JsonTraceSerializer.serializeRequest(ended)?.length ?? 0
    return [ended.length, bytes]
  }
}

/** CPU nanoseconds a span and bytes a span of one round. */
const timed = (round: () => readonly [spans: number, bytes: number]): readonly [nsPerSpan: number, bytesPerSpan: number] => {
  const started = process.cpuUsage()
  const [spans, bytes] = round()
  const cpu = process.cpuUsage(started)
  return [((cpu.user + cpu.system) * 1000) / spans, bytes / spans]
}

/**
 * Both ways in pairs, a round of each back to back, which first alternating, after warm-ups
 * (Faultline's code takes about thirty rounds to settle, the SDK's about five): on a shared
 * machine each side's level shifts by half between processes and minutes, the ratio of a pair
 * much less.
 */
export const benchSpanCost = (pairs = 30): SpanCost => {
  const sdkRound = sdkRounds()
  for (let warmUp = 0; warmUp < 40; warmUp++) faultlineRound()
  for (let warmUp = 0; warmUp < 10; warmUp++) sdkRound()
  const faultline: Array<number> = []
  const sdk: Array<number> = []
  const ratios: Array<number> = []
  let faultlineBytes = 0
  let sdkBytes = 0
  for (let index = 0; index < pairs; index++) {
    let faultlineRun: readonly [nsPerSpan: number, bytesPerSpan: number]
    let sdkRun: readonly [nsPerSpan: number, bytesPerSpan: number]
    if (index % 2 === 0) {
      faultlineRun = timed(faultlineRound)
      sdkRun = timed(sdkRound)
    } else {
      sdkRun = timed(sdkRound)
      faultlineRun = timed(faultlineRound)
    }
    faultline.push(faultlineRun[0])
    sdk.push(sdkRun[0])
    ratios.push(sdkRun[0] / faultlineRun[0])
    faultlineBytes = faultlineRun[1]
    sdkBytes = sdkRun[1]
  }
  const sorted = [...ratios].sort((left, right) => left - right)
  const [low, high] = medianInterval(pairs)
  return {
    faultlineNsPerSpan: median(faultline),
    faultlineBytesPerSpan: faultlineBytes,
    sdkNsPerSpan: median(sdk),
    sdkBytesPerSpan: sdkBytes,
    ratio: median(ratios),
    ratioLow: sorted[low]!,
    ratioHigh: sorted[high]!
  }
}
