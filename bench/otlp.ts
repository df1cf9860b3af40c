// Tracing's cost in the simulator: the standard Raft scenario's real-time factor with and without `--otlp` (spans recorded and serialized to OTLP JSON).
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { RAFT_STANDARD } from "./raft.ts"

/** The best round of each way, and what the export held. */
export interface OtlpCost {
  readonly plainFactor: number
  readonly exportFactor: number
  readonly spans: number
  readonly bytes: number
  readonly sameHashes: boolean
}

/**
 * Runs seeds 1..`seeds` of the standard scenario without and with span export, `rounds` times,
 * the two ways interleaved so a slow spell of the shared machine hits both alike, after warm-ups
 * of both; keeps each way's fastest round. The export's cost includes writing its OTLP JSON, as
 * `faultline run --otlp` does (but not the file write).
 */
export const benchOtlp = (seeds = 3, rounds = 5): OtlpCost => {
  const scenario = loadScenario(RAFT_STANDARD)
  const round = (exportSpans: boolean) => {
    let simulatedMs = 0
    let spans = 0
    let bytes = 0
    const hashes: Array<string> = []
    const started = performance.now()
    for (let seed = 1; seed <= seeds; seed++) {
      const result = runScenario(scenario, { seed, protocols: builtinProtocols, exportSpans })
      simulatedMs += result.simulatedMs
      hashes.push(result.traceHash)
      if (result.spanExport !== undefined) {
        spans += result.spanExport.spans
        bytes += result.spanExport.toOtlpJson().length
      }
    }
    return { factor: simulatedMs / (performance.now() - started), spans, bytes, hashes }
  }
  for (let warmUp = 0; warmUp < 2; warmUp++) {
    round(false)
    round(true)
  }
  let plain = round(false)
  let exported = round(true)
  for (let index = 1; index < rounds; index++) {
    const nextPlain = round(false)
    const nextExported = round(true)
    if (nextPlain.factor > plain.factor) plain = nextPlain
    if (nextExported.factor > exported.factor) exported = nextExported
  }
  return {
    plainFactor: plain.factor,
    exportFactor: exported.factor,
    spans: exported.spans,
    bytes: exported.bytes,
    sameHashes: plain.hashes.join() === exported.hashes.join()
  }
}

/** Prints the comparison as `npm run bench` does. */
export const printOtlpCost = (): void => {
  const cost = benchOtlp()
  const row = (label: string, value: string) => console.log(`  ${label.padEnd(46)} ${value}`)
  const format = (value: number) => value.toLocaleString("en-US", { maximumFractionDigits: 0 })
  console.log("tracing's cost in the simulator: the standard Raft scenario, seeds 1-3, best of 5 interleaved rounds")
  row("without --otlp", `${format(cost.plainFactor)}x real time`)
  row("with --otlp (spans + OTLP JSON)", `${format(cost.exportFactor)}x real time; ${format(cost.spans)} spans, ${format(cost.bytes / 1024)} KiB`)
  row("with / without", `${(cost.exportFactor / cost.plainFactor).toFixed(2)} (1.00 = free)`)
  row("trace hashes with and without export", cost.sameHashes ? "identical" : "DIFFER (a bug: exporting must not change the run)")
}

if (import.meta.url === `file://${process.argv[1]}`) printOtlpCost()
