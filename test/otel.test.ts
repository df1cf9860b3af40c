// OpenTelemetry export, end to end: a real 3-node Raft cluster and the simulator post to a small OTLP/HTTP receiver in this test.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer as createTcpServer, type Server as TcpServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { otelTracesConfigured } from "../src/real/index.ts"
import { runCli, runCliAsync } from "./fixtures/cli.ts"
import { type OtlpSpan, type ReceivedSpan, startReceiver } from "./fixtures/otlp-receiver.ts"
import { freeBasePort } from "./fixtures/real-ports.ts"

const root = mkdtempSync(join(tmpdir(), "faultline-otel-"))
const tracedData = join(root, "traced")
const quietData = join(root, "quiet")

/** The test's environment without any OTEL_* variable, so only what a test sets configures export. */
const withoutOtel = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_")))

const attribute = (span: OtlpSpan, key: string): unknown => {
  const value = span.attributes.find((entry) => entry.key === key)?.value
  return value === undefined ? undefined : Object.values(value)[0]
}

/** Each span name of `spans`, with the sorted attribute keys of its spans. */
const keysByName = (spans: ReadonlyArray<OtlpSpan>): Record<string, string> => {
  const names: Record<string, Set<string>> = {}
  for (const span of spans) for (const { key } of span.attributes) (names[span.name] ??= new Set()).add(key)
  return Object.fromEntries(Object.entries(names).map(([name, keys]) => [name, [...keys].sort().join(",")]).sort())
}

const waitFor = async <A>(what: string, find: () => A | undefined, timeoutMs = 20_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = find()
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Listens on `port` of loopback, retrying while another process holds it, up to `timeoutMs`. */
const listenRetrying = async (server: TcpServer, port: number, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false))
      server.listen(port, "127.0.0.1", () => resolve(true))
    })
    if (listening) return
    if (Date.now() > deadline) throw new Error(`port ${port} stayed taken`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

const receiver = await startReceiver()
let realPutSpans: Array<ReceivedSpan> = []

afterAll(async () => {
  // Whatever happened, no node process outlives the test.
  await runCliAsync(["cluster", "down", "--data", tracedData])
  runCli(["cluster", "down", "--data", quietData])
  receiver.server.close()
  rmSync(root, { recursive: true, force: true })
})

describe("OpenTelemetry export", () => {
  it("a real cluster: one put is one trace across nodes, the follower's spans parented by the leader's send", async () => {
    // Set up: three nodes exporting OTLP/HTTP JSON to the receiver, batches flushed quickly.
    const env = {
      ...withoutOtel(),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100"
    }
    const base = await freeBasePort(3)
    const up = runCli(["cluster", "up", "--nodes", "3", "--base-port", String(base), "--data", tracedData, "--detach"], process.cwd(), env)
    expect(up.status).toBe(0)
    // `cluster up` returns once every node answers; the first election may still be under way then
    // (more often on a busy machine), so the status is read again until one node says it leads.
    const leader = await waitFor("a leader in the cluster's status", () => {
      const nodes = JSON.parse(runCli(["cluster", "status", "--data", tracedData, "--json"]).stdout).nodes as Array<{ id: string; role: string }>
      return nodes.find((node) => node.role === "leader")?.id
    })
    const leaderHttp = base + 100 + Number(leader.slice(1))

    // Act: one put through the leader's HTTP endpoint.
    const put = await fetch(`http://127.0.0.1:${leaderHttp}/kv/traced`, { method: "PUT", body: JSON.stringify("yes") })
    expect(await put.json()).toEqual({ ok: true })

    // Check: the put's trace reaches a follower, whose handleAppend is the child of the leader's raft.append.
    const request = await waitFor("the put's client.request span", () =>
      receiver.spans.find((span) => span.name === "client.request" && attribute(span, "kv.key") === "traced"))
    const trace = await waitFor("a follower's spans in the put's trace", () => {
      const spans = receiver.spans.filter((span) => span.traceId === request.traceId)
      return spans.some((span) => span.name === "raft.handleAppend") && spans.some((span) => span.name === "storage.sync" && span.service !== leader)
        ? spans
        : undefined
    })
    expect(new Set(trace.map((span) => span.service)).size).toBeGreaterThanOrEqual(2)
    const handled = trace.filter((span) => span.name === "raft.handleAppend")
    for (const span of handled) {
      expect(span.service).not.toBe(leader)
      const parent = trace.find((candidate) => candidate.spanId === span.parentSpanId)
      expect(parent?.name).toBe("raft.append")
      expect(parent?.service).toBe(leader)
      expect(attribute(parent!, "raft.to")).toBe(span.service)
    }
    const propose = trace.find((span) => span.name === "raft.propose")!
    expect(propose.service).toBe(leader)
    expect(propose.parentSpanId).toBe(request.spanId)
    realPutSpans = trace
  }, 60_000)

  it("the simulator posts the same span names and attribute keys for a put, and one seed exports the same bytes twice", async () => {
    expect(realPutSpans.length).toBeGreaterThan(0)
    const scenario = join(root, "small.yaml")
    writeFileSync(
      scenario,
      "protocol: raft\nnodes: 3\nseed: 3\nduration: 2s\nliveness: 2s\n" +
        "workload: { clients: 1, keys: 2, operationsPerClient: 20, mix: { read: 0, write: 1, cas: 0, append: 0, delete: 0 } }\n"
    )
    const before = receiver.spans.length
    const posted = await runCliAsync(["run", scenario, "--otlp-endpoint", receiver.url], withoutOtel())
    expect(posted.stderr).toBe("")
    expect(posted.status).toBe(0)
    // The real cluster of the test before is still up, and its batch processor may post a put's
    // last spans after this run began: the simulator's spans are those whose resource names a seed.
    const simulated = receiver.spans.slice(before).filter((span) => span.resource.some((entry) => entry.key === "faultline.seed"))
    const simulatedPuts = new Set(simulated.filter((span) => span.name === "client.request" && attribute(span, "kv.operation") === "Put").map((span) => span.traceId))
    expect(simulatedPuts.size).toBeGreaterThan(0)
    expect(keysByName(simulated.filter((span) => simulatedPuts.has(span.traceId)))).toEqual(keysByName(realPutSpans))

    // Two exports of one seed are byte-identical, and exporting leaves the run's trace hash alone.
    const first = join(root, "first.json")
    const second = join(root, "second.json")
    const hashOf = (stdout: string) => /trace hash\s+([0-9a-f]{64})/.exec(stdout)?.[1]
    const runs = [runCli(["run", scenario, "--otlp", first]), runCli(["run", scenario, "--otlp", second]), runCli(["run", scenario])]
    expect(readFileSync(first)).toEqual(readFileSync(second))
    expect(readFileSync(first).length).toBeGreaterThan(1000)
    // The file, written piece by piece, holds the request the collector was posted whole.
    const filed = JSON.parse(readFileSync(first, "utf8")) as { resourceSpans: ReadonlyArray<{ scopeSpans: ReadonlyArray<{ spans: ReadonlyArray<unknown> }> }> }
    expect(filed.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)).length).toBe(simulated.length)
    expect(new Set(runs.map((run) => hashOf(run.stdout))).size).toBe(1)
    expect(hashOf(runs[0]!.stdout)).toBeDefined()
  }, 60_000)

  it("bad --otlp values: one line, exit 2", () => {
    for (const [flag, value, message] of [
      ["--otlp-endpoint", "localhost:4318", "--otlp-endpoint: expected an http:// or https:// URL"],
      ["--otlp", join(root, "missing", "x.json"), "--otlp: cannot write"]
    ] as const) {
      const result = runCli(["run", "scenarios/raft-leader-crash.yaml", flag, value])
      expect(result.status).toBe(2)
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
      expect(result.stderr).toContain(message)
    }
  })

  it("with no OTEL_* set, a real node exports nothing and never contacts the default collector (port 4318)", async () => {
    expect(otelTracesConfigured({})).toBe(false)
    expect(otelTracesConfigured({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318" })).toBe(false)
    expect(otelTracesConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://x:4318/v1/traces" })).toBe(true)
    expect(otelTracesConfigured({ OTEL_TRACES_EXPORTER: "otlp" })).toBe(true)
    // Listen where the SDK's default exporter would post; another test run on this machine may
    // hold the port for a moment, so try for a while.
    let contacts = 0
    const collector: TcpServer = createTcpServer((socket) => {
      contacts++
      socket.destroy()
    })
    await listenRetrying(collector, 4318, 30_000)
    // "localhost" may resolve to ::1 first; listen there too where the machine has IPv6 loopback.
    const collector6: TcpServer = createTcpServer((socket) => {
      contacts++
      socket.destroy()
    })
    await new Promise<void>((resolve) => {
      collector6.once("error", () => resolve())
      collector6.listen(4318, "::1", () => resolve())
    })
    try {
      const base = await freeBasePort(3)
      expect(runCli(["cluster", "up", "--nodes", "3", "--base-port", String(base), "--data", quietData, "--detach"], process.cwd(), withoutOtel()).status).toBe(0)
      const put = await fetch(`http://127.0.0.1:${base + 101}/kv/quiet`, { method: "PUT", body: JSON.stringify(1) })
      expect(await put.json()).toEqual({ ok: true })
      // Stopping flushes whatever an exporter would hold, so a default exporter would have posted by now.
      expect((await runCliAsync(["cluster", "down", "--data", quietData])).status).toBe(0)
      expect(contacts).toBe(0)
    } finally {
      collector.close()
      collector6.close()
    }
  }, 60_000)
})
