// Tracing's cost in the simulator: the standard Raft scenario's real-time factor with and without `--otlp` (spans recorded and serialized to OTLP JSON).
import { availableParallelism, loadavg } from "node:os"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { runIsolated } from "./isolated.ts"
import { RAFT_STANDARD } from "./raft.ts"

/** The best round of each way, the CPU time both ways took over all rounds, and what the export held. */
export interface OtlpCost {
  readonly plainFactor: number
  readonly exportFactor: number
  /** Process CPU milliseconds per simulated second, summed over every measured round: far less sensitive than wall time to other work on the machine. */
  readonly plainCpuMsPerSimulatedSecond: number
  readonly exportCpuMsPerSimulatedSecond: number
  /** Each round's CPU time per simulated second without over with, sorted: their median is steadier than the sums when the machine's load swings. */
  readonly pairRatios: ReadonlyArray<number>
  readonly spans: number
  readonly bytes: number
  readonly sameHashes: boolean
}

interface Round {
  readonly factor: number
  readonly cpuMs: number
  readonly simulatedMs: number
  readonly spans: number
  readonly bytes: number
  readonly hashes: ReadonlyArray<string>
}

/**
 * Runs seeds 1..`seeds` of the standard scenario without and with span export, `rounds` times,
 * the two ways interleaved so a slow spell of the shared machine hits both alike, after warm-ups
 * of both; keeps each way's fastest round, and sums each way's CPU time. The export's cost
 * includes writing its OTLP JSON, handed over piece by piece as `faultline run --otlp FILE`
 * hands it to the file, but not the file system's work: writing 1.4 MB a seed over an existing
 * file on this machine's disk took the kernel 20-28 ms of CPU a seed, more than the export
 * itself, and that swings with the disk, not with Faultline's code.
 */
export const benchOtlp = (seeds = 3, rounds = 9): OtlpCost => {
  const scenario = loadScenario(RAFT_STANDARD)
  const round = (exportSpans: boolean): Round => {
    let simulatedMs = 0
    let spans = 0
    let bytes = 0
    const hashes: Array<string> = []
    const started = performance.now()
    const cpuStarted = process.cpuUsage()
    for (let seed = 1; seed <= seeds; seed++) {
      const result = runScenario(scenario, { seed, protocols: builtinProtocols, exportSpans })
      simulatedMs += result.simulatedMs
      hashes.push(result.traceHash)
      const spanExport = result.spanExport
      if (spanExport !== undefined) {
        spans += spanExport.spans
        spanExport.writeOtlp((piece) => {
          bytes += piece.length
        })
      }
    }
    const cpu = process.cpuUsage(cpuStarted)
    return { factor: simulatedMs / (performance.now() - started), cpuMs: (cpu.user + cpu.system) / 1000, simulatedMs, spans, bytes, hashes }
  }
  for (let warmUp = 0; warmUp < 2; warmUp++) {
    round(false)
    round(true)
  }
  const plain: Array<Round> = []
  const exported: Array<Round> = []
  for (let index = 0; index < rounds; index++) {
    // Which way goes first alternates, so neither always runs after the other's garbage.
    if (index % 2 === 0) {
      plain.push(round(false))
      exported.push(round(true))
    } else {
      exported.push(round(true))
      plain.push(round(false))
    }
  }
  const best = (measured: ReadonlyArray<Round>) => measured.reduce((left, right) => (right.factor > left.factor ? right : left))
  const cpuPerSimulatedSecond = (measured: ReadonlyArray<Round>) =>
    measured.reduce((total, next) => total + next.cpuMs, 0) / (measured.reduce((total, next) => total + next.simulatedMs, 0) / 1000)
  const cpuPerSimulatedMs = (measured: Round) => measured.cpuMs / measured.simulatedMs
  const pairRatios = plain.map((next, index) => cpuPerSimulatedMs(next) / cpuPerSimulatedMs(exported[index]!)).sort((left, right) => left - right)
  return {
    pairRatios,
    plainFactor: best(plain).factor,
    exportFactor: best(exported).factor,
    plainCpuMsPerSimulatedSecond: cpuPerSimulatedSecond(plain),
    exportCpuMsPerSimulatedSecond: cpuPerSimulatedSecond(exported),
    spans: exported[0]!.spans,
    bytes: exported[0]!.bytes,
    sameHashes: plain.every((next) => next.hashes.join() === exported[0]!.hashes.join()) && exported.every((next) => next.hashes.join() === exported[0]!.hashes.join())
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
  console.log(`tracing's cost in the simulator: the standard Raft scenario, seeds 1-3, ${cost.pairRatios.length} interleaved rounds each way (load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`)
  row("without --otlp", `${format(cost.plainFactor)}x real time (best round); ${cpu(cost.plainCpuMsPerSimulatedSecond)} CPU ms per simulated s`)
  row("with --otlp (spans + OTLP JSON)", `${format(cost.exportFactor)}x real time; ${cpu(cost.exportCpuMsPerSimulatedSecond)} CPU ms per simulated s; ${format(cost.spans)} spans, ${format(cost.bytes / 1024)} KiB`)
  row("with / without, real-time factor (best rounds)", `${(cost.exportFactor / cost.plainFactor).toFixed(2)} (1.00 = free; target: at least 0.90)`)
  row("with / without, CPU time (all rounds)", `${(cost.plainCpuMsPerSimulatedSecond / cost.exportCpuMsPerSimulatedSecond).toFixed(2)} (the steadier figure on a shared machine)`)
  const ratios = cost.pairRatios
  row("  each round's pair: median (lowest-highest)", `${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)} (${ratios[0]!.toFixed(2)}-${ratios.at(-1)!.toFixed(2)})`)
  row("trace hashes with and without export", cost.sameHashes ? "identical" : "DIFFER (a bug: exporting must not change the run)")
}

if (import.meta.url === `file://${process.argv[1]}`) await printOtlpCost()
