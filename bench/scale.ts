// How the simulator scales with cluster size: wall time, events/s and peak memory of causal broadcast and Raft runs,
// each configuration in a fresh child process so that one run's heap and JIT do not pollute the next one's figures.
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { parse } from "yaml"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { scenarioFromObject } from "../src/sim/scenario.ts"

/** One configuration: a scenario file run with `nodes` servers, one seed. */
export interface ScaleConfiguration {
  readonly label: string
  readonly file: string
  readonly nodes: number
  readonly seed: number
}

/** What one configuration measured, in its own process. */
export interface ScaleRow extends ScaleConfiguration {
  readonly wallMs: number
  readonly simulatedMs: number
  readonly events: number
  readonly eventsPerSecond: number
  readonly peakRssMb: number
  readonly ok: boolean
}

/** The quick-start broadcast scenario at 5 to 100 nodes, and the standard Raft scenario at 5 to 25. */
export const scaleConfigurations: ReadonlyArray<ScaleConfiguration> = [
  ...[5, 10, 25, 50, 100].map((nodes) => ({
    label: "causal broadcast",
    file: "scenarios/causal-broadcast-partitions.yaml",
    nodes,
    seed: 1
  })),
  ...[5, 10, 25].map((nodes) => ({ label: "raft", file: "bench/raft-standard.yaml", nodes, seed: 1 }))
]

/**
 * Runs one configuration in this process and returns its figures. The scenario is rebuilt from its
 * YAML with `nodes` replaced, so that defaults that depend on the cluster size (Raft's `maxDown`,
 * a minority) follow it.
 */
export const runConfiguration = (configuration: ScaleConfiguration): Omit<ScaleRow, keyof ScaleConfiguration | "peakRssMb"> => {
  const raw = parse(readFileSync(configuration.file, "utf8")) as Record<string, unknown>
  const scenario = scenarioFromObject({ ...raw, nodes: configuration.nodes }, configuration.file)
  const result = runScenario(scenario, { seed: configuration.seed, protocols: builtinProtocols })
  return {
    wallMs: result.wallMs,
    simulatedMs: result.simulatedMs,
    events: result.events,
    eventsPerSecond: (result.events / result.wallMs) * 1000,
    ok: result.ok
  }
}

const CHILD_FLAG = "--scale-child"

/** Runs one configuration in a fresh Node process and reads its figures and peak resident memory back. */
const runInChild = (configuration: ScaleConfiguration): ScaleRow => {
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), CHILD_FLAG, JSON.stringify(configuration)],
    { encoding: "utf8", maxBuffer: 1 << 20 }
  )
  if (child.status !== 0) {
    throw new Error(`${configuration.label} at ${configuration.nodes} nodes failed (exit ${child.status}): ${child.stderr.trim()}`)
  }
  const lastLine = child.stdout.trim().split("\n").at(-1) ?? ""
  return { ...configuration, ...(JSON.parse(lastLine) as Omit<ScaleRow, keyof ScaleConfiguration>) }
}

/** Runs every configuration, one fresh process each, in order; `onRow` sees each row as it comes. */
export const benchScale = (
  configurations: ReadonlyArray<ScaleConfiguration> = scaleConfigurations,
  onRow?: (row: ScaleRow) => void
): Array<ScaleRow> =>
  configurations.map((configuration) => {
    const row = runInChild(configuration)
    onRow?.(row)
    return row
  })

const format = (value: number, digits = 0) => value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** The table header and one line per row, as printed. */
export const scaleTableHeader = (): string =>
  `  ${"protocol".padEnd(18)}${"nodes".padStart(6)}${"wall s".padStart(10)}${"sim/wall".padStart(10)}${"events".padStart(12)}${"events/s".padStart(12)}${"peak RSS MB".padStart(13)}  checks`

export const scaleTableLine = (row: ScaleRow): string =>
  `  ${row.label.padEnd(18)}${String(row.nodes).padStart(6)}${format(row.wallMs / 1000, 2).padStart(10)}${`${format(row.simulatedMs / row.wallMs, 1)}x`.padStart(10)}${format(row.events).padStart(12)}${format(row.eventsPerSecond).padStart(12)}${format(row.peakRssMb).padStart(13)}  ${row.ok ? "hold" : "VIOLATED"}`

/** Prints the table, row by row as the runs finish; returns the rows. */
export const printScaleTable = (configurations: ReadonlyArray<ScaleConfiguration> = scaleConfigurations): Array<ScaleRow> => {
  console.log("scale: one seed per configuration, each in a fresh process (peak RSS includes Node, tsx and the loaded modules, about 150 MB)")
  console.log(scaleTableHeader())
  return benchScale(configurations, (row) => console.log(scaleTableLine(row)))
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]
if (isMain && process.argv[2] === CHILD_FLAG) {
  const figures = runConfiguration(JSON.parse(process.argv[3]!) as ScaleConfiguration)
  // maxRSS is in kilobytes: the peak resident memory of this process over its whole life.
  console.log(JSON.stringify({ ...figures, peakRssMb: process.resourceUsage().maxRSS / 1024 }))
} else if (isMain) {
  printScaleTable()
}
