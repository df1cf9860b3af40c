// What a span costs to record and write as OTLP JSON, in a tight loop: Faultline's simulated export against the OpenTelemetry JS SDK, on the same spans.
//
// Section 9 measures the export inside a run, where its cost is set against the simulator's own
// work and so grows as the simulator gets faster. This measures the export alone, beside the
// SDK that real nodes use: the spans of one client write in the standard Raft scenario (the
// client's request, the leader's proposal and sync, an append to each of three followers, and
// each follower's handling and sync), ten spans and two events, recorded and then serialized.
import { context, SpanKind, trace, type Tracer } from "@opentelemetry/api"
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer"
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { Spans } from "../src/env/index.ts"
import { SpanExport } from "../src/sim/span-export.ts"

/** Nanoseconds a span and bytes a span of each, over the measured rounds. */
export interface SpanCost {
  readonly faultlineNsPerSpan: number
  readonly faultlineBytesPerSpan: number
  readonly sdkNsPerSpan: number
  readonly sdkBytesPerSpan: number
}

/** Client writes a round: about as many as one seed of the standard scenario makes. */
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

/** Times `rounds` rounds of `round` after `warmUps`, and returns nanoseconds and bytes a span. */
const measure = (round: () => readonly [spans: number, bytes: number], warmUps: number, rounds: number): readonly [nsPerSpan: number, bytesPerSpan: number] => {
  for (let warmUp = 0; warmUp < warmUps; warmUp++) round()
  let spans = 0
  let bytes = 0
  const started = process.cpuUsage()
  for (let index = 0; index < rounds; index++) {
    const [roundSpans, roundBytes] = round()
    spans += roundSpans
    bytes += roundBytes
  }
  const cpu = process.cpuUsage(started)
  return [((cpu.user + cpu.system) * 1000) / spans, bytes / spans]
}

/** Both ways, measured in turn in this process: the SDK's rounds are about ten times longer, so fewer. */
export const benchSpanCost = (): SpanCost => {
  const [faultlineNsPerSpan, faultlineBytesPerSpan] = measure(faultlineRound, 40, 100)
  const [sdkNsPerSpan, sdkBytesPerSpan] = measure(sdkRounds(), 10, 20)
  return { faultlineNsPerSpan, faultlineBytesPerSpan, sdkNsPerSpan, sdkBytesPerSpan }
}
