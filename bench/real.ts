// `npm run bench:real`: a real three-node Raft cluster on loopback with fsync on, driven through its HTTP endpoint,
// and, when an etcd binary is on the PATH, a three-member etcd cluster under the same load in the same run.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { Agent, createServer, request } from "node:http"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { freeBasePort } from "../test/fixtures/real-ports.ts"
import { machineLine } from "./machine.ts"

const root = fileURLToPath(new URL("..", import.meta.url))
const bin = resolve(root, "bin", "faultline.js")
/** How long each load level of the tracing-cost section runs (the comparison with etcd runs in slices, see {@link sliceMs}). */
const levelMs = Number(process.env["FAULTLINE_BENCH_REAL_LEVEL_MS"] ?? 5000)
/**
 * Puts, unmeasured, that every cluster takes before its first measured level. A node's first
 * seconds go to compiling (V8 compiles a function once it runs often, on the node's thread and on
 * V8's background threads), and a cold level charges that once-only cost to whatever is measured
 * first: with tracing on there is more code to compile (the SDK's, in the export worker), so a
 * cold comparison of export off and on measured start-up as much as tracing. Every cluster, etcd's
 * too, gets the same warm-up.
 */
const warmUpMs = Number(process.env["FAULTLINE_BENCH_REAL_WARM_UP_MS"] ?? 3000)
/**
 * The warm-up of each cluster in the measure of tracing's cost, longer than {@link warmUpMs}: V8
 * takes about 20 s to finish compiling the SDK's code in the export worker. Measured at a fixed
 * 600 puts/s over 10 s: the followers' background threads spent 130-180 µs a put starting 6 s
 * after the cluster, 23 µs starting 26 s after it, against about 95 and 8 µs with export off. A
 * cluster that runs for minutes pays that once; what tracing costs it from then on is measured.
 */
const exportWarmUpMs = Number(process.env["FAULTLINE_BENCH_REAL_EXPORT_WARM_UP_MS"] ?? 20_000)
/**
 * `FAULTLINE_BENCH_REAL_CLIENTS=1` (a comma-separated list) measures puts at those levels only,
 * etcd's cluster and Faultline's side by side (see {@link sideBySide}), `FAULTLINE_BENCH_REAL_ROUNDS`
 * times with fresh clusters (default 1), and skips reads, the leader kill and tracing's cost: a quick
 * look at one figure on a shared machine.
 */
const quickLevels = process.env["FAULTLINE_BENCH_REAL_CLIENTS"]?.split(",").map(Number)
/**
 * The side-by-side comparison alternates `FAULTLINE_BENCH_REAL_PAIRS` pairs of slices (default 10)
 * of `FAULTLINE_BENCH_REAL_SLICE_MS` each (default 1000) at every level.
 */
const slicePairs = Number(process.env["FAULTLINE_BENCH_REAL_PAIRS"] ?? 10)
const sliceMs = Number(process.env["FAULTLINE_BENCH_REAL_SLICE_MS"] ?? 1000)

/** One HTTP request on a keep-alive agent: its status and body. */
const call = (agent: Agent, options: { host: string; port: number; method: string; path: string; body?: string }): Promise<{ status: number; body: string }> =>
  new Promise((resolvePromise, reject) => {
    const outgoing = request({ agent, host: options.host, port: options.port, method: options.method, path: options.path, timeout: 5000 }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (body += chunk))
      response.on("end", () => resolvePromise({ status: response.statusCode ?? 0, body }))
    })
    outgoing.on("timeout", () => outgoing.destroy(new Error("timeout")))
    outgoing.on("error", reject)
    if (options.body !== undefined) outgoing.setHeader("content-type", "application/json")
    outgoing.end(options.body)
  })

/** A system under test: how to put and get one key through its HTTP API. */
interface Target {
  readonly name: string
  readonly endpoints: ReadonlyArray<{ host: string; port: number }>
  readonly put: (key: string, value: string) => { method: string; path: string; body: string }
  readonly get: (key: string) => { method: string; path: string; body?: string }
  readonly ok: (status: number, body: string) => boolean
}

/** A running cluster of either system: its API, the leader's endpoint, and how to kill the leader and stop it all. */
interface Cluster {
  readonly target: Target
  readonly leader: { host: string; port: number }
  readonly killLeader: () => void
  /** Resolves once every process has exited. */
  readonly stop: () => Promise<void>
  /** Its processes, where the benchmark knows them: their CPU time is read from /proc. */
  readonly pids?: ReadonlyArray<number>
}

interface LevelResult {
  readonly concurrency: number
  /** Operations that succeeded. */
  readonly count: number
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
  /** Each success's latency, sorted, and how long the level ran: what pooling slices needs. */
  readonly latenciesMs: ReadonlyArray<number>
  readonly elapsedMs: number
}

const percentile = (sorted: ReadonlyArray<number>, fraction: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN

/** Runs `concurrency` clients, each in a loop of operations on its own key, for `levelMs`, against one endpoint. */
const runLevel = async (
  target: Target,
  endpoint: { host: string; port: number },
  concurrency: number,
  kind: "put" | "get",
  durationMs = levelMs
): Promise<LevelResult> => {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const latencies: Array<number> = []
  let errors = 0
  const deadline = performance.now() + durationMs
  const worker = async (index: number) => {
    let sequence = 0
    while (performance.now() < deadline) {
      const key = `bench-${index}`
      const spec = kind === "put" ? target.put(key, String(++sequence)) : target.get(key)
      const started = performance.now()
      try {
        const answer = await call(agent, { ...endpoint, ...spec })
        if (target.ok(answer.status, answer.body)) latencies.push(performance.now() - started)
        else errors++
      } catch {
        errors++
      }
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)))
  const elapsedMs = performance.now() - started
  agent.destroy()
  latencies.sort((left, right) => left - right)
  return levelResult(concurrency, latencies, elapsedMs, errors)
}

const levelResult = (concurrency: number, sortedLatencies: ReadonlyArray<number>, elapsedMs: number, errors: number): LevelResult => ({
  concurrency,
  count: sortedLatencies.length,
  perSecond: (sortedLatencies.length / elapsedMs) * 1000,
  p50Ms: percentile(sortedLatencies, 0.5),
  p99Ms: percentile(sortedLatencies, 0.99),
  errors,
  latenciesMs: sortedLatencies,
  elapsedMs
})

/** Slices of one level as if they were one run: their operations over their summed time. */
const pooled = (slices: ReadonlyArray<LevelResult>): LevelResult =>
  levelResult(
    slices[0]!.concurrency,
    slices.flatMap((slice) => slice.latenciesMs).sort((left, right) => left - right),
    slices.reduce((sum, slice) => sum + slice.elapsedMs, 0),
    slices.reduce((sum, slice) => sum + slice.errors, 0)
  )

/** The warm-up every cluster gets before its first measured level (see {@link warmUpMs}). */
const warmUp = async (target: Target, endpoint: { host: string; port: number }, durationMs = warmUpMs): Promise<void> => {
  if (durationMs > 0) await runLevel(target, endpoint, 16, "put", durationMs)
}

/** Writes from 4 clients spread over every endpoint while the leader is killed: the longest gap between successful writes. */
const leaderKillGap = async (target: Target, kill: () => void, windowMs = 8000): Promise<number> => {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  const successes: Array<number> = []
  const started = performance.now()
  const deadline = started + windowMs
  const worker = async (index: number) => {
    let sequence = 0
    while (performance.now() < deadline) {
      const endpoint = target.endpoints[(index + sequence) % target.endpoints.length]!
      try {
        const answer = await call(agent, { ...endpoint, ...target.put(`gap-${index}`, String(++sequence)) })
        if (target.ok(answer.status, answer.body)) successes.push(performance.now())
      } catch {
        // The killed node's endpoint refuses; the next try goes elsewhere.
      }
    }
  }
  setTimeout(kill, windowMs / 4)
  await Promise.all([0, 1, 2, 3].map(worker))
  agent.destroy()
  successes.sort((left, right) => left - right)
  const points = [started + windowMs / 4, ...successes.filter((time) => time >= started + windowMs / 4), deadline]
  let gap = 0
  for (let index = 1; index < points.length; index++) gap = Math.max(gap, points[index]! - points[index - 1]!)
  return gap
}

const faultline = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) => {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env })
  if (result.status !== 0) throw new Error(`faultline ${args.join(" ")}: ${result.stderr}`)
  return result.stdout
}

/**
 * Spans the nodes of every stopped cluster said they dropped: on the way to their export worker
 * (it fell behind), and in the SDK's own queue behind it (the collector fell behind; the SDK says
 * so only at `OTEL_LOG_LEVEL=warn`, which the benchmark sets). A ratio measured while spans were
 * lost would flatter the export.
 */
const spansDropped = { toWorker: 0, inSdk: 0 }

/** What the nodes' logs in `data` say they dropped. */
const countDroppedSpans = (data: string): void => {
  for (const file of readdirSync(data).filter((name) => name.endsWith(".log"))) {
    const log = readFileSync(join(data, file), "utf8")
    for (const match of log.matchAll(/span export: (\d+) spans dropped/g)) spansDropped.toWorker += Number(match[1])
    for (const match of log.matchAll(/Dropped (\d+) spans because maxQueueSize reached/g)) spansDropped.inSdk += Number(match[1])
  }
}

/** Faultline's Raft: a cluster up in the background, its HTTP endpoints, the leader's found by /status. */
const faultlineRaft = async (env: NodeJS.ProcessEnv = process.env): Promise<Cluster> => {
  const data = mkdtempSync(join(tmpdir(), "faultline-bench-real-"))
  const base = await freeBasePort(3)
  faultline(["cluster", "up", "--nodes", "3", "--base-port", String(base), "--data", data, "--detach"], env)
  const status = JSON.parse(faultline(["cluster", "status", "--data", data, "--json"])) as {
    nodes: Array<{ id: string; pid: number; role: string; http: string }>
  }
  const endpoints = status.nodes.map((node) => ({ host: "127.0.0.1", port: Number(node.http.split(":")[1]) }))
  const leaderNode = status.nodes.find((node) => node.role === "leader") ?? status.nodes[0]!
  const target: Target = {
    name: "faultline raft",
    endpoints,
    put: (key, value) => ({ method: "PUT", path: `/kv/${key}`, body: value }),
    get: (key) => ({ method: "GET", path: `/kv/${key}` }),
    ok: (status) => status === 200
  }
  return {
    target,
    leader: endpoints[status.nodes.indexOf(leaderNode)]!,
    pids: status.nodes.map((node) => node.pid),
    killLeader: () => process.kill(leaderNode.pid, "SIGKILL"),
    stop: () =>
      new Promise<void>((resolvePromise) => {
        // Not spawnSync: a collector in this process must keep answering while the nodes flush their spans.
        spawn(process.execPath, [bin, "cluster", "down", "--data", data], { stdio: "ignore" }).on("exit", () => {
          countDroppedSpans(data)
          rmSync(data, { recursive: true, force: true })
          resolvePromise()
        })
      })
  }
}

/** etcd 3.x: three members on loopback, its JSON gateway (/v3/kv/put, /v3/kv/range) as the API. */
const etcdCluster = async (): Promise<Cluster | undefined> => {
  if (spawnSync("etcd", ["--version"]).status !== 0) return undefined
  const data = mkdtempSync(join(tmpdir(), "faultline-bench-etcd-"))
  const base = await freeBasePort(3)
  const members = [1, 2, 3].map((index) => ({ name: `e${index}`, client: base + index, peer: base + 100 + index }))
  const initial = members.map((member) => `${member.name}=http://127.0.0.1:${member.peer}`).join(",")
  const children: Array<ChildProcess> = members.map((member) => {
    mkdirSync(join(data, member.name), { recursive: true })
    return spawn("etcd", [
      "--name", member.name, "--data-dir", join(data, member.name),
      "--listen-client-urls", `http://127.0.0.1:${member.client}`, "--advertise-client-urls", `http://127.0.0.1:${member.client}`,
      "--listen-peer-urls", `http://127.0.0.1:${member.peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${member.peer}`,
      "--initial-cluster", initial, "--initial-cluster-state", "new", "--log-level", "error"
    ], { stdio: "ignore" })
  })
  const endpoints = members.map((member) => ({ host: "127.0.0.1", port: member.client }))
  const base64 = (text: string) => Buffer.from(text).toString("base64")
  const target: Target = {
    name: "etcd",
    endpoints,
    put: (key, value) => ({ method: "POST", path: "/v3/kv/put", body: JSON.stringify({ key: base64(key), value: base64(value) }) }),
    get: (key) => ({ method: "POST", path: "/v3/kv/range", body: JSON.stringify({ key: base64(key) }) }),
    ok: (status) => status === 200
  }
  // Wait for a leader: the member whose status says it leads.
  let leaderIndex = -1
  const agent = new Agent({ keepAlive: false })
  for (let attempt = 0; attempt < 100 && leaderIndex < 0; attempt++) {
    for (const [index, endpoint] of endpoints.entries()) {
      try {
        const answer = await call(agent, { ...endpoint, method: "POST", path: "/v3/maintenance/status", body: "{}" })
        const parsed = JSON.parse(answer.body) as { header?: { member_id?: string }; leader?: string }
        if (parsed.leader !== undefined && parsed.leader === parsed.header?.member_id) leaderIndex = index
      } catch {
        // Not up yet.
      }
    }
    if (leaderIndex < 0) await new Promise((resolvePromise) => setTimeout(resolvePromise, 100))
  }
  if (leaderIndex < 0) throw new Error("etcd elected no leader")
  return {
    target,
    leader: endpoints[leaderIndex]!,
    killLeader: () => children[leaderIndex]!.kill("SIGKILL"),
    // Waits for every member to exit, so that the next cluster finds their ports free.
    stop: async () => {
      await Promise.all(children.map((child) => new Promise<void>((resolvePromise) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolvePromise()
        child.once("exit", () => resolvePromise())
        child.kill("SIGKILL")
      })))
      rmSync(data, { recursive: true, force: true })
    }
  }
}

const row = (label: string, value: string) => console.log(`  ${label.padEnd(46)} ${value}`)
const format = (value: number) => value.toLocaleString("en-US", { maximumFractionDigits: 0 })

/** A collector that takes every OTLP/HTTP export (protobuf, as the SDK sends by default) and counts its bytes. */
const startSink = async (): Promise<{ url: string; bytes: () => number; close: () => void }> => {
  let bytes = 0
  const server = createServer((incoming, response) => {
    incoming.on("data", (chunk: Buffer) => (bytes += chunk.length))
    incoming.on("end", () => response.writeHead(200).end())
  })
  await new Promise<void>((resolvePromise) => server.listen(0, "127.0.0.1", resolvePromise))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, bytes: () => bytes, close: () => server.close() }
}

/** CPU milliseconds (user and system) a process has used so far, from /proc; undefined where there is no /proc. */
const cpuMsOf = (pid: number): number | undefined => {
  try {
    // Fields 14 and 15 of /proc/PID/stat, counted after the command name's closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
  } catch {
    return undefined
  }
}

/** The kernel's clock ticks per second (USER_HZ), which is 100 on every Linux Node supports. */
const CLOCK_TICKS_PER_SECOND = 100

/** The CPU milliseconds all of `pids` have used so far, or undefined when one cannot be read. */
const cpuMsOfAll = (pids: ReadonlyArray<number>): number | undefined => {
  let total = 0
  for (const pid of pids) {
    const used = cpuMsOf(pid)
    if (used === undefined) return undefined
    total += used
  }
  return total
}

/** The middle value (the mean of the middle two when there is an even number). */
const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((left, right) => left - right)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** One load level of two clusters, measured in alternated slices; the second's is undefined when there is none. */
interface Compared {
  readonly first: LevelResult
  readonly second: LevelResult | undefined
  /** Each pair's first-over-second ratio, sorted. */
  readonly pairRatios: ReadonlyArray<number>
  /** CPU milliseconds per operation of each cluster's processes over its own slices, where they are known (see `Cluster.pids`). */
  readonly cpuMsPerOperation: { readonly first: number | undefined; readonly second: number | undefined }
}

/**
 * Two clusters up at once (Faultline's and etcd's, or a plain and an exporting Faultline cluster),
 * each load level measured in `slicePairs` pairs of `sliceMs` slices, alternated (which goes
 * first alternates too), after both were warmed up in alternated turns. Measured one after the
 * other, two clusters meet a shared machine in two different moods: on this one a run's figures
 * swing by 1.5-2x within minutes, and a pair of 5-s levels taken 20 s apart read anywhere from
 * 0.55x to 1.68x for unchanged code. Slices a second apart meet the same moods, and the median of
 * the pairs' ratios shrugs off a slow second. The idle cluster's heartbeats run during the
 * other's slices, both ways round; each cluster's CPU time is read over its own slices only.
 */
const sideBySide = async (first: Cluster, second: Cluster | undefined, levels: ReadonlyArray<number>, kind: "put" | "get"): Promise<Array<Compared>> => {
  const results: Array<Compared> = []
  for (const concurrency of levels) {
    const measured = { first: { slices: [] as Array<LevelResult>, cpuMs: 0, operations: 0 }, second: { slices: [] as Array<LevelResult>, cpuMs: 0, operations: 0 } }
    const slice = async (which: "first" | "second") => {
      const cluster = which === "first" ? first : second!
      const cpuBefore = cluster.pids === undefined ? undefined : cpuMsOfAll(cluster.pids)
      const level = await runLevel(cluster.target, cluster.leader, concurrency, kind, sliceMs)
      const cpuAfter = cluster.pids === undefined ? undefined : cpuMsOfAll(cluster.pids)
      measured[which].slices.push(level)
      if (cpuBefore !== undefined && cpuAfter !== undefined) {
        measured[which].cpuMs += cpuAfter - cpuBefore
        measured[which].operations += level.count
      }
    }
    for (let pair = 0; pair < slicePairs; pair++) {
      if (second === undefined) await slice("first")
      else if (pair % 2 === 0) {
        await slice("second")
        await slice("first")
      } else {
        await slice("first")
        await slice("second")
      }
    }
    const secondSlices = measured.second.slices
    const pairRatios = secondSlices.map((slice, index) => measured.first.slices[index]!.perSecond / slice.perSecond).sort((left, right) => left - right)
    const perOperation = (which: "first" | "second") => (measured[which].operations > 0 ? measured[which].cpuMs / measured[which].operations : undefined)
    results.push({
      first: pooled(measured.first.slices),
      second: secondSlices.length === 0 ? undefined : pooled(secondSlices),
      pairRatios,
      cpuMsPerOperation: { first: perOperation("first"), second: perOperation("second") }
    })
  }
  return results
}

/** Warms both clusters up in alternated turns of `turnMs`, three each (see {@link warmUpMs}). */
const warmUpBoth = async (first: Cluster, second: Cluster | undefined, turnMs = warmUpMs): Promise<void> => {
  for (let turn = 0; turn < 3; turn++) {
    if (second !== undefined) await warmUp(second.target, second.leader, turnMs)
    await warmUp(first.target, first.leader, turnMs)
  }
}

const spreadOf = (pairRatios: ReadonlyArray<number>) =>
  `median pair ${median(pairRatios).toFixed(2)}, pairs ${pairRatios[0]!.toFixed(2)}-${pairRatios[pairRatios.length - 1]!.toFixed(2)}`

/** A level of Faultline (first) against etcd (second). */
const printCompared = (label: string, compared: Compared) => {
  const { first: raft, second: etcd, pairRatios } = compared
  const figures = (level: LevelResult) => `${format(level.perSecond)} (p50 ${level.p50Ms.toFixed(2)} ms, p99 ${level.p99Ms.toFixed(1)} ms)`
  const errors = raft.errors + (etcd?.errors ?? 0) > 0 ? `; errors ${raft.errors} / ${etcd?.errors ?? 0}` : ""
  if (etcd === undefined) return row(label, `${figures(raft)}${errors}`)
  row(label, `${figures(raft)}; etcd ${figures(etcd)}: ${(raft.perSecond / etcd.perSecond).toFixed(2)}x etcd (${spreadOf(pairRatios)})${errors}`)
}

const clients = (count: number) => `${count} client${count === 1 ? "" : "s"}`

/**
 * Tracing's cost on a real cluster: puts/s with OpenTelemetry export off and on, measured side by
 * side (see {@link sideBySide}) as the comparison with etcd is: a plain and an exporting cluster
 * up at once, warmed up in alternated turns (see {@link exportWarmUpMs}). Measured one after the
 * other, as this did until session 12, single pairs read from 0.28 to 1.83 in one run. Printed:
 * the pooled ratio, the median and range of the pairs' own, and the CPU time each cluster's three
 * nodes spent per put, which a loaded machine disturbs less than throughput. `npm run bench` runs
 * it with 16 clients only.
 */
export const exportCost = async (levels: ReadonlyArray<number> = [1, 16]) => {
  const sink = await startSink()
  const plainEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_")))
  const exportEnv = { ...plainEnv, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_LOG_LEVEL: "warn" }
  const on = await faultlineRaft(exportEnv)
  const off = await faultlineRaft(plainEnv)
  console.log(
    `\ntracing's cost: faultline raft puts/s with OpenTelemetry export off and on (OTLP/HTTP protobuf to a local sink), two clusters side by side, each warmed up for ${exportWarmUpMs / 1000} s, ${slicePairs} alternated pairs of ${sliceMs / 1000}-s slices per level`
  )
  try {
    await warmUpBoth(on, off, exportWarmUpMs / 3)
    const compared = await sideBySide(on, off, levels, "put")
    compared.forEach(({ first, second, pairRatios, cpuMsPerOperation }, index) => {
      row(
        `puts/s, ${clients(levels[index]!)}`,
        `off ${format(second!.perSecond)}, on ${format(first.perSecond)}: on/off ${(first.perSecond / second!.perSecond).toFixed(2)} (${spreadOf(pairRatios)}; target: at least 0.90)`
      )
      const { first: perPutOn, second: perPutOff } = cpuMsPerOperation
      if (perPutOn !== undefined && perPutOff !== undefined) {
        row(`  CPU ms per put, the three nodes`, `off ${perPutOff.toFixed(2)}, on ${perPutOn.toFixed(2)}: off/on ${(perPutOff / perPutOn).toFixed(2)}`)
      }
    })
  } finally {
    // Waited for: the sink must take the nodes' last spans, and their logs say what they dropped.
    await off.stop()
    await on.stop()
  }
  sink.close()
  row("load average", `${loadavg().map((value) => value.toFixed(1)).join(", ")} on ${availableParallelism()} cores`)
  // Over each cluster's whole run, warm-up included. The SDK says what its queue dropped only when
  // a later span gets in, so a spell of drops at the very end goes unsaid: "at least".
  row(
    "exported",
    `${format(sink.bytes() / 1024)} KiB; spans dropped: ${format(spansDropped.toWorker)} on their way to the nodes' export workers, at least ${format(spansDropped.inSdk)} in the SDK's queue`
  )
}

/** Puts only, at `quickLevels`, side by side with etcd, `FAULTLINE_BENCH_REAL_ROUNDS` times with fresh clusters. */
const quick = async (levels: ReadonlyArray<number>) => {
  const rounds = Number(process.env["FAULTLINE_BENCH_REAL_ROUNDS"] ?? 1)
  console.log(`Puts only, ${levels.join(", ")} client(s); etcd and Faultline side by side, ${slicePairs} alternated pairs of ${sliceMs / 1000}-s slices per level`)
  for (let round = 1; round <= rounds; round++) {
    const etcd = await etcdCluster()
    const raft = await faultlineRaft()
    try {
      await warmUpBoth(raft, etcd)
      const compared = await sideBySide(raft, etcd, levels, "put")
      compared.forEach((level, index) => printCompared(`${rounds > 1 ? `round ${round}, ` : ""}puts/s, ${clients(levels[index]!)}`, level))
    } finally {
      await etcd?.stop()
      await raft.stop()
    }
  }
  row("load average", `${loadavg().map((value) => value.toFixed(1)).join(", ")} on ${availableParallelism()} cores`)
}

const main = async () => {
  console.log(machineLine())
  if (process.env["FAULTLINE_BENCH_REAL_EXPORT_ONLY"] === "1") return exportCost()
  if (quickLevels !== undefined) return quick(quickLevels)
  const etcd = await etcdCluster()
  console.log(
    `Real clusters on loopback, fsync on, through HTTP with keep-alive clients; ${etcd === undefined ? "Faultline alone" : "etcd and Faultline side by side"}, ${slicePairs} ${etcd === undefined ? "slices" : "alternated pairs of slices"} of ${sliceMs / 1000} s per level`
  )
  if (etcd === undefined) console.log("(no etcd on the PATH: install Debian's etcd-server to compare in the same run)")
  const raft = await faultlineRaft()
  try {
    await warmUpBoth(raft, etcd)
    const levels = [1, 16, 64]
    const puts = await sideBySide(raft, etcd, levels, "put")
    puts.forEach((level, index) => printCompared(`puts/s, ${clients(levels[index]!)}`, level))
    const [reads] = await sideBySide(raft, etcd, [16], "get")
    printCompared("linearizable reads/s, 16 clients", reads!)
    // One leader at a time, each cluster's own clients spread over its endpoints.
    const etcdGapMs = etcd === undefined ? undefined : await leaderKillGap(etcd.target, etcd.killLeader)
    const raftGapMs = await leaderKillGap(raft.target, raft.killLeader)
    row("longest write gap after a leader SIGKILL", `${(raftGapMs / 1000).toFixed(2)} s${etcdGapMs === undefined ? "" : `; etcd ${(etcdGapMs / 1000).toFixed(2)} s`}`)
  } finally {
    await etcd?.stop()
    await raft.stop()
  }
  row("load average", `${loadavg().map((value) => value.toFixed(1)).join(", ")} on ${availableParallelism()} cores`)
  await exportCost()
}

// Run as a script (`npm run bench:real`), not when `npm run bench` imports exportCost.
if (import.meta.url === `file://${process.argv[1]}`) await main()
