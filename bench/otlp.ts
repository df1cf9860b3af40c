// Tracing's cost in the simulator: the standard Raft scenario's real-time factor with and without `--otlp` (spans recorded and serialized to OTLP JSON).
import { availableParallelism, loadavg } from "node:os"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { runIsolated } from "./isolated.ts"
import { medianInterval } from "./median.ts"
import { RAFT_STANDARD } from "./raft.ts"
import type { SpanCost } from "./span-cost.ts"

/** Both ways' figures over every measured run, the pairs' ratios, and what the export held. */
export interface OtlpCost {
  /** Simulated time over wall time, summed over every measured run of each way: the real-time factor. */
  readonly plainFactor: number
  readonly exportFactor: number
  /** Process CPU milliseconds per simulated second, summed over every measured run: far less sensitive than wall time to other work on the machine. */
  readonly plainCpuMsPerSimulatedSecond: number
  readonly exportCpuMsPerSimulatedSecond: number
  /** Each pair's CPU time without over with, sorted: a pair is one seed run both ways, back to back. */
  readonly pairRatios: ReadonlyArray<number>
  /** A 95% interval of the pairs' median, from their order statistics alone (no assumption about the machine's noise). */
  readonly medianLow: number
  readonly medianHigh: number
  /** What exporting cost each span, in CPU microseconds: the median over the pairs of the two runs' difference over the spans exported. */
  readonly cpuUsPerSpan: number
  /** What one export of each seed held, summed. */
  readonly spans: number
  readonly bytes: number
  readonly sameHashes: boolean
}

interface Run {
  readonly wallMs: number
  readonly cpuMs: number
  readonly simulatedMs: number
  readonly spans: number
  readonly bytes: number
  readonly hash: string
}

/**
 * Runs the standard scenario without and with span export: after warm-ups of seeds 1..`seeds`
 * both ways, `pairs` pairs, each one seed (in turn) run both ways back to back, which way first
 * alternating, so that the machine's slow spells (this is a shared machine, where single runs
 * swing by a quarter) fall on both ways of a pair alike. Short pairs, and many: a run's CPU time
 * swings, the ratio of two runs side by side much less, and the median of many such ratios least.
 * The warm-ups, ten rounds of three seeds in all, last until V8 has mostly stopped compiling (it
 * still compiled in the eighth, on a thread of its own whose time the process's CPU time counts).
 *
 * The export's cost includes writing its OTLP JSON, handed over piece by piece as
 * `faultline run --otlp FILE` hands it to the file, but not the file system's work: writing 1.4 MB
 * a seed over an existing file on this machine's disk took the kernel 20-28 ms of CPU a seed,
 * more than the export itself, and that swings with the disk, not with Faultline's code.
 */
export const benchOtlp = (seeds = 3, pairs = 90, warmUps = 5): OtlpCost => {
  const scenario = loadScenario(RAFT_STANDARD)
  const run = (seed: number, exportSpans: boolean): Run => {
    const started = performance.now()
    const cpuStarted = process.cpuUsage()
    const result = runScenario(scenario, { seed, protocols: builtinProtocols, exportSpans })
    let bytes = 0
    result.spanExport?.writeOtlp((piece) => {
      bytes += piece.length
    })
    const cpu = process.cpuUsage(cpuStarted)
    const wallMs = performance.now() - started
    return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, simulatedMs: result.simulatedMs, spans: result.spanExport?.spans ?? 0, bytes, hash: result.traceHash }
  }
  for (let warmUp = 0; warmUp < warmUps; warmUp++) {
    for (let seed = 1; seed <= seeds; seed++) run(seed, false)
    for (let seed = 1; seed <= seeds; seed++) run(seed, true)
  }
  const plain: Array<Run> = []
  const exported: Array<Run> = []
  for (let index = 0; index < pairs; index++) {
    const seed = (index % seeds) + 1
    // Which way goes first alternates over each seed's pairs, so neither always runs after the other's garbage.
    if (Math.floor(index / seeds) % 2 === 0) {
      plain.push(run(seed, false))
      exported.push(run(seed, true))
    } else {
      exported.push(run(seed, true))
      plain.push(run(seed, false))
    }
  }
  const total = (runs: ReadonlyArray<Run>, field: "wallMs" | "cpuMs" | "simulatedMs") => runs.reduce((sum, next) => sum + next[field], 0)
  const pairRatios = plain.map((next, index) => next.cpuMs / exported[index]!.cpuMs).sort((left, right) => left - right)
  const [low, high] = medianInterval(pairRatios.length)
  const firstExports = exported.slice(0, seeds)
  const perSpan = exported.map((next, index) => ((next.cpuMs - plain[index]!.cpuMs) * 1000) / next.spans).sort((left, right) => left - right)
  return {
    plainFactor: total(plain, "simulatedMs") / total(plain, "wallMs"),
    exportFactor: total(exported, "simulatedMs") / total(exported, "wallMs"),
    plainCpuMsPerSimulatedSecond: total(plain, "cpuMs") / (total(plain, "simulatedMs") / 1000),
    exportCpuMsPerSimulatedSecond: total(exported, "cpuMs") / (total(exported, "simulatedMs") / 1000),
    pairRatios,
    medianLow: pairRatios[low]!,
    medianHigh: pairRatios[high]!,
    cpuUsPerSpan: perSpan[Math.floor(perSpan.length / 2)]!,
    spans: firstExports.reduce((sum, next) => sum + next.spans, 0),
    bytes: firstExports.reduce((sum, next) => sum + next.bytes, 0),
    sameHashes: plain.every((next, index) => next.hash === exported[index]!.hash)
  }
}

/**
 * Prints the comparison as `npm run bench` does, measured in a fresh worker thread: after the
 * benchmarks before it, the simulator's code is compiled for their protocols' shapes (a token
 * ring, the quorum store), which is not how a run with or without `--otlp` finds it.
 */
export const printOtlpCost = async (): Promise<void> => {
  const cost = await runIsolated<OtlpCost>(new URL(import.meta.url), "benchOtlp", [])
  const row = (label: string, value: string) => console.log(`  ${label.padEnd(46)} ${value}`)
  const format = (value: number) => value.toLocaleString("en-US", { maximumFractionDigits: 0 })
  const cpu = (value: number) => value.toFixed(2)
  const ratios = cost.pairRatios
  console.log(`tracing's cost in the simulator: the standard Raft scenario, ${ratios.length} pairs of seeds 1-3 run each way back to back (load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`)
  row("without --otlp", `${format(cost.plainFactor)}x real time; ${cpu(cost.plainCpuMsPerSimulatedSecond)} CPU ms per simulated s`)
  row("with --otlp (spans + OTLP JSON)", `${format(cost.exportFactor)}x real time; ${cpu(cost.exportCpuMsPerSimulatedSecond)} CPU ms per simulated s; ${format(cost.spans)} spans, ${format(cost.bytes / 1024)} KiB`)
  row("with / without, real-time factor", `${(cost.exportFactor / cost.plainFactor).toFixed(2)} (1.00 = free; target: at least 0.90)`)
  row("with / without, CPU time (all runs)", `${(cost.plainCpuMsPerSimulatedSecond / cost.exportCpuMsPerSimulatedSecond).toFixed(2)}`)
  row(
    "  the pairs' median (95% interval; all pairs)",
    `${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)} (${cost.medianLow.toFixed(3)}-${cost.medianHigh.toFixed(3)}; ${ratios[0]!.toFixed(2)}-${ratios.at(-1)!.toFixed(2)}): the steadiest figure on a shared machine`
  )
  row("the export's CPU time per span (median pair)", `${cost.cpuUsPerSpan.toFixed(2)} µs: unlike the ratios, it does not grow as the simulator gets faster`)
  row("trace hashes with and without export", cost.sameHashes ? "identical" : "DIFFER (a bug: exporting must not change the run)")
  const alone = await runIsolated<SpanCost>(new URL("./span-cost.ts", import.meta.url), "benchSpanCost", [])
  row(
    "one span, recorded and written (tight loop)",
    `${format(alone.faultlineNsPerSpan)} ns, ${format(alone.faultlineBytesPerSpan)} bytes; the OpenTelemetry SDK on the same spans ${format(alone.sdkNsPerSpan)} ns, ${format(alone.sdkBytesPerSpan)} bytes: ${alone.ratio.toFixed(1)}x (median pair; 95% interval ${alone.ratioLow.toFixed(1)}-${alone.ratioHigh.toFixed(1)})`
  )
}

if (import.meta.url === `file://${process.argv[1]}`) await printOtlpCost()
