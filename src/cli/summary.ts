// Formats a run for people: a short summary, each violation, and the command that replays it.
import { resolve } from "node:path"
import { formatMetricValue, type Metric } from "../check/metrics.ts"
import { unknownProtocol } from "../definition/input.ts"
import type { DeterminismReport } from "../sim/determinism.ts"
import { readInputFile } from "../sim/input-file.ts"
import type { RunResult } from "../sim/run.ts"
import { describeDraw, describeDrawnKnobs, describeDrawnWorkload, type SwarmDraw } from "../sim/swarm-faults.ts"
import { UsageError } from "./errors.ts"

const number = (value: number): string => value.toLocaleString("en-US")

const seconds = (ms: number): string => `${(ms / 1000).toFixed(3)} s`

/** Counts by kind as text, such as "2 Partition, 1 Crash". */
const kindCounts = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(", ")

/**
 * The faults as the trace has them: the safety phase's by kind, then what healing did. A
 * scheduled fault that changed nothing (restarting a node that is up) is named as such, so the
 * figures match the trace's fault lines and the JSON report's `faultLines`.
 */
const faultCounts = (result: RunResult): string => {
  const safety = Object.values(result.faultLines.safety).reduce((sum, count) => sum + count, 0)
  const healing = kindCounts(result.faultLines.healing)
  const idle = result.faults.length - safety
  const parts = [
    safety === 0 ? "none" : `${safety} (${kindCounts(result.faultLines.safety)})`,
    ...(idle > 0 ? [`${idle} scheduled changed nothing`] : []),
    ...(healing === "" ? [] : [`healing: ${healing}`])
  ]
  return parts.join("; ")
}

/** Metrics as summary lines, three to a line under one label, such as "elections 3, leader-losses 1, …". */
export const metricLines = (metrics: ReadonlyArray<Metric>, label = "metrics"): Array<string> => {
  const lines: Array<string> = []
  for (let start = 0; start < metrics.length; start += 3) {
    const text = metrics.slice(start, start + 3).map((metric) => `${metric.name} ${formatMetricValue(metric.value)}`).join(", ")
    lines.push(`  ${(start === 0 ? label : "").padEnd(12)} ${text}`)
  }
  return lines
}

/**
 * The flags of a run that its replay must repeat to be the same run: `--swarm` (the fault mix
 * drawn from the seed) and `--protocols` (the module that defines the protocol, such as a
 * planted-bug fixture).
 */
export interface ReplayOptions {
  readonly swarm?: boolean | undefined
  readonly protocols?: string | undefined
  /** `--protocol`: the protocol that ran in place of the scenario's own. */
  readonly protocol?: string | undefined
  /**
   * The command that reruns this run when it is not `run` of the scenario's path: for a replayed
   * report, `faultline replay` of the report (which holds the scenario's text), where `run` of a
   * path relative to the directory the report was made in works only there.
   */
  readonly command?: string | undefined
}

/**
 * What a report carries so that `faultline replay` can rerun it from any directory: the scenario's
 * text as it was when the run was made, and the absolute path of the protocols module.
 */
export const replaySource = (
  file: string,
  replay: ReplayOptions
): { scenarioText: string | null; protocolsModule: string | null; protocolOverride: string | null } => {
  const read = readInputFile(file, "scenario file")
  return {
    scenarioText: "text" in read ? read.text : null,
    protocolsModule: replay.protocols === undefined ? null : resolve(replay.protocols),
    protocolOverride: replay.protocol ?? null
  }
}

/**
 * The scenario with `--protocol` in place of its own protocol, when given: a variant swarmed over a
 * shipped scenario. A name `protocols` does not hold is refused as the flag's mistake (`where`
 * names where it came from), not the scenario file's.
 */
export const withProtocol = <S extends { readonly protocol: string }>(
  scenario: S,
  protocol: string | undefined,
  protocols: ReadonlyMap<string, unknown>,
  where = "--protocol"
): S => {
  if (protocol === undefined) return scenario
  if (!protocols.has(protocol)) throw new UsageError(`${where}: ${unknownProtocol(protocol, protocols.keys())}`)
  return { ...scenario, protocol }
}

/** The replay flags as command-line text, each with a leading space; empty when there are none. */
export const replayFlags = (options: ReplayOptions): string =>
  `${options.swarm === true ? " --swarm" : ""}${options.protocol === undefined ? "" : ` --protocol ${options.protocol}`}` +
  `${options.protocols === undefined ? "" : ` --protocols ${options.protocols}`}`

/** The command that reruns this exact run and writes its trace. */
export const replayCommand = (result: RunResult, extra = ""): string =>
  `npx faultline run ${result.scenario.file} --seed ${result.seed}${extra} --trace trace-${result.seed}.jsonl`

/**
 * The human summary of one run; `replay` names the flags its replay command must repeat, and
 * `draw`, in swarm mode, what the seed drew (its fault mix, network, knobs and workload shape).
 */
export const formatSummary = (result: RunResult, replay: ReplayOptions = {}, draw?: SwarmDraw): string => {
  const scenario = result.scenario
  const speedup = result.wallMs > 0 ? result.simulatedMs / result.wallMs : 0
  const lines = [
    `${scenario.name}`,
    `  protocol     ${scenario.protocol} (${scenario.nodes} nodes)`,
    `  seed         ${result.seed}`,
    `  simulated    ${seconds(result.simulatedMs)} (faults for ${seconds(scenario.durationMs)}, then liveness for ${seconds(scenario.livenessMs)})`,
    `  wall         ${seconds(result.wallMs)} (${number(Math.round(speedup))}x real time)`,
    `  events       ${number(result.events)} (${number(result.traceEvents)} trace lines)`,
    `  messages     ${number(result.stats.messagesSent)} sent, ${number(result.stats.messagesDelivered)} delivered, ` +
      `${number(result.stats.messagesDropped)} dropped, ${number(result.stats.messagesDuplicated)} duplicated`,
    `  faults       ${faultCounts(result)}`,
    ...(draw === undefined ? [] : [`  drawn        ${describeDraw(draw)}`, `  knobs        ${describeDrawnKnobs(draw)}`]),
    ...metricLines(result.metrics),
    ...(draw === undefined || describeDrawnWorkload(draw) === undefined ? [] : [`  workload     ${describeDrawnWorkload(draw)}`]),
    `  checks       ${result.checks.map((check) => `${check.ok ? "✓" : "✗"} ${check.name}`).join("  ")}`,
    `  trace hash   ${result.traceHash}`
  ]
  const spans = result.spanExport
  if (spans !== undefined) lines.push(`  spans        ${number(spans.spans)} in ${number(spans.traces)} traces (OTLP)`)
  for (const note of result.notes) lines.push(`  note         ${note}`)
  const failed = result.checks.filter((check) => !check.ok)
  if (failed.length > 0) {
    lines.push("", "VIOLATED")
    for (const check of failed) {
      for (const violation of check.violations) {
        lines.push(`  ✗ ${check.name} at ${seconds(violation.timeUs / 1000)}: ${violation.message}`)
      }
    }
    lines.push("", `replay: ${replay.command ?? replayCommand(result, replayFlags(replay))}`)
  } else {
    lines.push("", "all checks hold")
  }
  return lines.join("\n")
}

/** The machine-readable form of a run, for `--json`. */
export const summaryJson = (
  result: RunResult,
  determinism?: DeterminismReport,
  replay: ReplayOptions = {},
  draw?: SwarmDraw
): Record<string, unknown> => ({
  scenario: result.scenario.file,
  name: result.scenario.name,
  protocol: result.scenario.protocol,
  nodes: result.scenario.nodes,
  seed: result.seed,
  ok: result.ok,
  simulatedMs: result.simulatedMs,
  wallMs: Math.round(result.wallMs),
  events: result.events,
  traceEvents: result.traceEvents,
  stats: result.stats,
  faults: result.faults,
  faultLines: result.faultLines,
  checks: result.checks,
  // Infinity (elections but no leader) has no JSON form: it is written as null.
  metrics: Object.fromEntries(result.metrics.map((metric) => [metric.name, Number.isFinite(metric.value) ? metric.value : null])),
  traceHash: result.traceHash,
  replay: replayCommand(result, replayFlags(replay)),
  swarm: replay.swarm === true,
  ...(draw === undefined ? {} : { draw: describeDraw(draw), knobs: draw.knobs, workload: draw.workload }),
  ...replaySource(result.scenario.file, replay),
  ...(determinism === undefined
    ? {}
    : { deterministic: determinism.divergence === undefined, divergence: determinism.divergence ?? null })
})

/** The report of a failed determinism audit. */
export const formatDivergence = (report: DeterminismReport): string => {
  const divergence = report.divergence!
  return [
    `✗ determinism: the two runs of seed ${report.first.seed} diverged at trace line ${divergence.index + 1}`,
    `  first run:  ${divergence.firstLine ?? "(trace ended)"}`,
    `  second run: ${divergence.secondLine ?? "(trace ended)"}`,
    `  hashes:     ${report.first.traceHash.slice(0, 16)} vs ${report.second.traceHash.slice(0, 16)}`,
    "  something outside the seed (Math.random, Date, real timers, iteration over a shared global) leaked into the run"
  ].join("\n")
}
