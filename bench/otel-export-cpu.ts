// The CPU a real node's span export costs per span: on the node's own thread, on the export worker, and in the whole process, at a fixed rate of spans shaped like a put's.
//
// Standalone, not part of `npm run bench`: `npx tsx bench/otel-export-cpu.ts`. It starts the real
// export (`startOtelExport`: the worker, the SDK, OTLP/HTTP protobuf) against a sink in a child
// process that discards what it is sent, warms up (V8 takes about 20 s to compile the SDK's code
// at these rates), then measures. Knobs: FAULTLINE_BENCH_OTEL_SPANS_PER_S (2,400),
// FAULTLINE_BENCH_OTEL_WARM_UP_S (20), FAULTLINE_BENCH_OTEL_MEASURE_S (25), and
// FAULTLINE_BENCH_OTEL_STUB=1, which makes the same calls on spans that do nothing, the floor of
// the bench's own work to subtract. Thread CPU comes from Linux's /proc/self/task/*/schedstat.
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { loadavg } from "node:os"
import type { OpenSpan } from "../src/env/index.ts"
import { startOtelExport } from "../src/real/index.ts"

const numberFromEnv = (name: string, otherwise: number): number => Number(process.env[name] ?? otherwise)
const spansPerSecond = numberFromEnv("FAULTLINE_BENCH_OTEL_SPANS_PER_S", 2400)
const warmUpMs = numberFromEnv("FAULTLINE_BENCH_OTEL_WARM_UP_S", 20) * 1000
const measureMs = numberFromEnv("FAULTLINE_BENCH_OTEL_MEASURE_S", 25) * 1000
const stub = process.env.FAULTLINE_BENCH_OTEL_STUB === "1"
const SPANS_PER_PUT = 6

/** A sink for OTLP/HTTP posts in a child process, so that receiving them is not charged to the export. */
const SINK = `require("node:http").createServer((request, response) => {
  request.resume()
  request.on("end", () => response.writeHead(200, { "content-type": "application/x-protobuf" }).end())
}).listen(0, "127.0.0.1", function () { process.stdout.write(this.address().port + "\\n") })`

/** A thread's CPU time so far in nanoseconds (the first field of its schedstat). */
const threadCpuNs = (threadId: string): number => Number(readFileSync(`/proc/self/task/${threadId}/schedstat`, "utf8").split(" ")[0])

/** The export worker's thread: the one at niceness 19, as the worker sets itself. */
const workerThreadId = (): string | undefined =>
  readdirSync("/proc/self/task").find((thread) => {
    const stat = readFileSync(`/proc/self/task/${thread}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]) === 19
  })

type Spans = { readonly start: (name: string, attributes: Record<string, string | number>, options?: object) => OpenSpan }

/** One put's spans as one node would make them if it were leader and follower at once: six spans, a quarter of the appends with links, two events, an error now and then. */
const makePut = (spans: Spans) => {
  let index = 0
  let recent: Array<string> = []
  return (): void => {
    const i = index++
    const key = `key-${i % 100}`
    const request = spans.start("client.request", { "client.id": "c3", "kv.operation": "Put", "kv.key": key }, { kind: "client" })
    const propose = spans.start("raft.propose", { "raft.index": i, "raft.term": 3, "kv.operation": "Put", "kv.key": key }, { kind: "server", parent: request.traceparent })
    const links = i % 4 === 0 ? recent.slice(0, 1 + (i % 3)) : undefined
    const appendAttributes = { "raft.to": "n2", "raft.term": 3, "raft.prevLogIndex": i - 1, "raft.entries": 1 + (links?.length ?? 0) }
    const append = spans.start("raft.append", appendAttributes, { kind: "producer", parent: propose.traceparent, links })
    append.end()
    spans.start("storage.sync", { "raft.entries": 1, "raft.firstIndex": i }, { parent: propose.traceparent, links }).end()
    const handle = spans.start("raft.handleAppend", { "raft.leader": "n1", "raft.term": 3, "raft.prevLogIndex": i - 1, "raft.entries": 1 }, { kind: "consumer", parent: append.traceparent })
    spans.start("storage.sync", { "raft.entries": 1, "raft.firstIndex": i }, { parent: handle.traceparent }).end()
    handle.event("persisted", {})
    handle.end()
    propose.event("apply", { "raft.index": i })
    propose.end(i % 50 === 0 ? "error" : "ok")
    request.end()
    recent = [propose.traceparent, ...recent.slice(0, 3)]
  }
}

/** Calls `put` at the fixed rate until `untilMs` after the start, checking every 10 ms; `made` counts the puts. */
const paced = (put: () => void, startedMs: number, untilMs: number, made: { puts: number }): Promise<void> =>
  new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsedMs = performance.now() - startedMs
      const due = Math.floor((Math.min(elapsedMs, untilMs) / 1000) * spansPerSecond / SPANS_PER_PUT)
      for (; made.puts < due; made.puts++) put()
      if (elapsedMs >= untilMs) {
        clearInterval(timer)
        resolve()
      }
    }, 10)
  })

const main = async (): Promise<void> => {
  const sink = spawn(process.execPath, ["-e", SINK], { stdio: ["ignore", "pipe", "inherit"] })
  const port = await new Promise<number>((resolve) => sink.stdout.once("data", (data: Buffer) => resolve(Number(String(data).trim()))))
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_"))), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }
  const lines: Array<string> = []
  const stubSpan: OpenSpan = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", event: () => {}, end: () => {} }
  const exported = stub ? undefined : await startOtelExport({ node: "n1", cluster: "bench", protocol: "raft" }, env, (line) => lines.push(line))
  const spans: Spans = exported?.forNode() ?? { start: () => stubSpan }
  const put = makePut(spans)
  const made = { puts: 0 }
  const startedMs = performance.now()
  await paced(put, startedMs, warmUpMs, made)
  const worker = stub ? undefined : workerThreadId()
  const before = { puts: made.puts, process: process.cpuUsage(), node: threadCpuNs(String(process.pid)), worker: worker === undefined ? 0 : threadCpuNs(worker) }
  await paced(put, startedMs, warmUpMs + measureMs, made)
  const measured = (made.puts - before.puts) * SPANS_PER_PUT
  const processCpu = process.cpuUsage(before.process)
  const perSpan = (microseconds: number) => (microseconds / measured).toFixed(2)
  console.log(`load average ${loadavg().map((load) => load.toFixed(2)).join(" ")}; ${stub ? "stub spans (the floor)" : "export on"}; ${measured} spans in ${measureMs / 1000} s`)
  console.log(`CPU µs per span: process ${perSpan(processCpu.user + processCpu.system)}, node thread ${perSpan((threadCpuNs(String(process.pid)) - before.node) / 1000)}` +
    (worker === undefined ? "" : `, export worker ${perSpan((threadCpuNs(worker) - before.worker) / 1000)}`))
  await exported?.shutdown()
  for (const line of lines) console.log(line)
  sink.kill()
}

await main()
