// `faultline shrink`: turns a failing run into a minimal scenario file that fails the same check.
import { accessSync, constants, writeFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { ScenarioError, unknownProtocol } from "../definition/input.ts"
import { runScenario } from "../sim/run.ts"
import { loadScenario, type Scenario } from "../sim/scenario.ts"
import { scenarioToYaml } from "../sim/scenario-writer.ts"
import type { ProtocolDefinition } from "../definition/protocol.ts"
import { failsTheSameWay, type ReproSize, reproSize, shrinkFailure } from "../sim/shrink.ts"
import { swarmScenario } from "../sim/swarm-faults.ts"
import { parseInteger, UsageError } from "./errors.ts"
import { replayFlags, withProtocol } from "./summary.ts"
import { loadProtocols } from "./protocols.ts"

/** Flags of `faultline shrink`. */
export interface ShrinkFlags {
  readonly seed?: string
  readonly output?: string
  readonly swarm?: boolean
  readonly protocols?: string
  readonly maxRuns?: string
  readonly protocol?: string
}

/** The workload settings that shrinking changed, such as "messagesPerNode 20 -> 3, omitClients [2]". */
const workloadChanges = (before: Scenario, after: Scenario): string => {
  const text = (value: unknown) => (value === undefined ? "unset" : JSON.stringify(value))
  const keys = [...new Set([...Object.keys(before.workload), ...Object.keys(after.workload)])]
  const changes = keys
    .filter((key) => text(before.workload[key]) !== text(after.workload[key]))
    .map((key) => (key in before.workload ? `${key} ${text(before.workload[key])} -> ${text(after.workload[key])}` : `${key} ${text(after.workload[key])}`))
  return changes.length === 0 ? "unchanged" : changes.join(", ")
}

/** A run's size in words, such as "12 faults, 4 clients, 2,003 operations, 68.0 s simulated". */
const describeSize = (size: ReproSize): string =>
  [
    `${size.faults} faults`,
    ...(size.clients === undefined ? [] : [`${size.clients} clients`, `${size.operations!.toLocaleString("en-US")} operations`]),
    `${(size.simulatedMs / 1000).toFixed(3)} s simulated`
  ].join(", ")

/** The options shrinking left unlike the scenario's own (drawn knobs it could not return), or "as the scenario". */
const knobChanges = (before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>): string => {
  const changed = Object.keys(after).filter((key) => after[key] !== before[key])
  return changed.length === 0 ? "as the scenario" : `kept ${changed.map((key) => `${key} ${String(after[key])}`).join(", ")}`
}

/** The fields of `workload` that give its shape (those a swarm draws), for the summary. */
const shapeOf = (workload: Readonly<Record<string, unknown>>, protocols: ReadonlyMap<string, ProtocolDefinition>, scenario: Scenario) =>
  Object.fromEntries((protocols.get(scenario.protocol)?.workloadKnobs ?? []).map((knob) => [knob.name, workload[knob.name]]))

/** A network's trouble in words, such as "uniform latency, loss 3%, long delays 1%", or "constant latency, quiet". */
const describeNetwork = (scenario: Scenario): string => {
  const link = scenario.network.defaults
  const rates = (
    [
      ["loss", link.lossRate],
      ["duplication", link.duplicateRate],
      ["reordering", link.reorderRate],
      ["long delays", link.longDelayRate ?? 0]
    ] as const
  )
    .filter(([, rate]) => rate > 0)
    .map(([name, rate]) => `${name} ${(rate * 100).toFixed(1)}%`)
  const links = scenario.network.links.length === 0 ? [] : [`${scenario.network.links.length} link overrides`]
  return [`${link.latency._tag.toLowerCase()} latency`, ...(rates.length === 0 ? ["quiet"] : rates), ...links].join(", ")
}

/** What the repro's run judges, in words, for its description. */
const shrunkRule = (check: string, before: Scenario, after: Scenario): string => {
  if (after.livenessMs === 0) return `It fails ${check}, a safety check, and has no liveness phase, so it judges no liveness check.`
  if (after.livenessMs === before.livenessMs) return `It keeps the original's liveness phase of ${after.livenessMs} ms, so liveness checks are judged as they were.`
  return `Its liveness phase is ${after.livenessMs} ms; liveness checks are judged only where their checker allows so short a phase.`
}

/** Runs the command; returns 0 when a smaller failing run was written, 2 on bad input. */
export const shrinkCommand = async (file: string, flags: ShrinkFlags): Promise<number> => {
  if (flags.seed === undefined) throw new UsageError("--seed: required (the seed of the failing run)")
  const seed = parseInteger("--seed", flags.seed)
  const maxRuns = flags.maxRuns === undefined ? 400 : parseInteger("--max-runs", flags.maxRuns, { minimum: 1 })
  const protocols = await loadProtocols(flags.protocols)
  const loaded = withProtocol(loadScenario(file), flags.protocol, protocols)
  // Input a shrink of minutes would otherwise trip over only at its end.
  if (!protocols.has(loaded.protocol)) throw new ScenarioError(`${file}: protocol: ${unknownProtocol(loaded.protocol, protocols.keys())}`)
  const output = flags.output ?? "repro.yaml"
  try {
    accessSync(dirname(resolve(output)), constants.W_OK)
  } catch (error) {
    throw new UsageError(`-o: cannot write ${output} (${(error as NodeJS.ErrnoException).code ?? "error"} for its directory)`)
  }
  const scenario = flags.swarm === true ? swarmScenario(loaded, seed, protocols).scenario : loaded
  const started = performance.now()
  process.stderr.write(`shrinking seed ${seed} of ${file}…\n`)
  const result = shrinkFailure(scenario, seed, {
    protocols,
    maxRuns,
    knobDefaults: flags.swarm === true ? loaded.options : undefined,
    workloadDefaults: flags.swarm === true ? loaded.workload : undefined,
    ownLatency: flags.swarm === true ? loaded.network.defaults.latency : undefined,
    onStep: (description, _, runs) => process.stderr.write(`  run ${runs}/${maxRuns} kept: ${description}\n`)
  })
  const before = result.original
  const after = result.shrunk
  const summary = [
    `faults ${before.scheduled.length} -> ${after.scheduled.length}`,
    `workload ${workloadChanges(before, after)}`,
    `nodes ${before.nodes} -> ${after.nodes}`,
    `duration ${before.durationMs} ms + ${before.livenessMs} ms liveness -> ${after.durationMs} ms + ${after.livenessMs} ms`,
    `network ${describeNetwork(before)} -> ${describeNetwork(after)}`,
    `knobs ${knobChanges(loaded.options, after.options)}`,
    `workload shape ${knobChanges(shapeOf(loaded.workload, protocols, after), shapeOf(after.workload, protocols, after))}`,
    `size ${describeSize(reproSize(result.originalResult))} -> ${describeSize(reproSize(result.shrunkResult))}`
  ]
  const violation = result.shrunkResult.checks.find((check) => check.name === result.check)!.violations[0]
  // The repro names the protocol that failed, so --protocol is not needed to replay it.
  const replay = `npx faultline run ${output}${replayFlags({ protocols: flags.protocols })}`
  const origin = `${file}, seed ${seed}${flags.swarm === true ? " (swarm)" : ""}`
  const comment = [
    `Shrunk by faultline from ${origin}, in ${result.runs} runs.`,
    `It fails ${result.check}: ${violation?.message ?? ""}`,
    `Replay: ${replay}`
  ].join("\n")
  const description = [`Shrunk from ${origin}: ${summary.join("; ")}.`, shrunkRule(result.check, before, after)].join(" ")
  try {
    writeFileSync(output, scenarioToYaml({ ...after, name: `${after.name} (shrunk)`, description }, comment))
  } catch (error) {
    throw new UsageError(`-o: cannot write ${output} (${(error as NodeJS.ErrnoException).code ?? "error"})`)
  }
  // Replay what was written, so the hash printed is the one `faultline run` on the file gives, and
  // verify the repro: it fails the original check, and fails nothing the original did not.
  const replayed = runScenario(loadScenario(output), { protocols })
  if (!failsTheSameWay(result.originalResult, result.check, replayed)) {
    const violated = replayed.checks.filter((check) => !check.ok).map((check) => check.name).join(", ")
    throw new Error(`shrink: ${output} fails ${violated || "nothing"} when replayed, not ${result.check} as the original did; this is a bug in faultline`)
  }
  process.stdout.write(
    [
      `shrunk seed ${seed} of ${file} in ${result.runs} runs (${((performance.now() - started) / 1000).toFixed(1)} s)`,
      `  check        ${result.check}: ${violation?.message ?? ""}`,
      ...summary.map((line) => `  ${line}`),
      `  trace hash   ${replayed.traceHash}`,
      `  written to   ${output}`,
      `  replay:      ${replay}`
    ].join("\n") + "\n"
  )
  return 0
}
