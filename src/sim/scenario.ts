// Loads a scenario file (YAML), validates it against the schema and resolves it into what the simulator runs.
import { Exit, Schema } from "effect"
import { durationMs, formatDuration } from "../definition/duration.ts"
import { ScenarioError, serverIds } from "../definition/input.ts"
import { describeSchemaError } from "../definition/schema-error.ts"
import type { TraceFault } from "../trace/index.ts"
import { readInputFile } from "./input-file.ts"
import { checkLimits } from "./scenario-limits.ts"
import { parseScenarioYaml } from "./scenario-yaml.ts"
import type { DiskModel } from "./simulation.ts"
import type { LatencyDistribution, LinkModel, NetworkModel } from "./network-model.ts"
import {
  type LatencyInput,
  type RandomFaultsInput,
  ScenarioInput,
  type ScheduledFaultInput
} from "./scenario-schema.ts"

export { durationMs } from "../definition/duration.ts"
export { ScenarioError, serverIds } from "../definition/input.ts"
export { describeSchemaError } from "../definition/schema-error.ts"

/**
 * A fault the nemesis can inject. Most are recorded in the trace just as they are scheduled (see
 * TraceFault); a crash is scheduled with whether to tear a write and recorded with what it tore,
 * and the clock faults are recorded with the change they made.
 */
export type Fault =
  | Extract<TraceFault, { readonly _tag: "Partition" | "PartitionOneWay" | "Heal" | "Restart" | "Pause" | "Resume" | "Clog" | "Unclog" }>
  | { readonly _tag: "Crash"; readonly node: string; readonly torn: boolean }
  | { readonly _tag: "ClockOffset"; readonly node: string; readonly ms: number }
  | { readonly _tag: "ClockStep"; readonly node: string; readonly ms: number }
  | { readonly _tag: "ClockDrift"; readonly node: string; readonly rate: number }

/** A fault at a simulated time. */
export interface ScheduledFault {
  readonly atMs: number
  readonly fault: Fault
}

/** Random fault rates, resolved with defaults. A rate of zero turns a kind off. */
export interface RandomFaults {
  readonly partitions: { readonly ratePerSecond: number; readonly durationMs: readonly [number, number]; readonly oneWayRate: number }
  readonly crashes: { readonly ratePerSecond: number; readonly durationMs: readonly [number, number]; readonly tornRate: number }
  readonly pauses: { readonly ratePerSecond: number; readonly durationMs: readonly [number, number] }
  readonly clogs: { readonly ratePerSecond: number; readonly durationMs: readonly [number, number] }
  readonly stalls: { readonly ratePerSecond: number; readonly durationMs: readonly [number, number] }
  /** Crashes followed by a restart within milliseconds, as a process supervisor restarts a killed server. */
  readonly bounces: { readonly ratePerSecond: number; readonly durationMs: readonly [number, number] }
  readonly clockSteps: { readonly ratePerSecond: number; readonly maxMs: number }
  readonly clockDrifts: { readonly ratePerSecond: number; readonly maxRate: number }
  readonly maxDown: number
}

/** A validated scenario, ready to run. */
export interface Scenario {
  readonly file: string
  readonly name: string
  readonly description: string
  readonly protocol: string
  readonly options: Readonly<Record<string, unknown>>
  readonly workload: Readonly<Record<string, unknown>>
  readonly nodes: number
  readonly seed: number
  readonly durationMs: number
  readonly livenessMs: number
  readonly network: NetworkModel
  readonly disk: DiskModel
  readonly scheduled: ReadonlyArray<ScheduledFault>
  readonly random: RandomFaults
  /** The checks to judge by name; undefined, every check. */
  readonly checks: ReadonlyArray<string> | undefined
  /** Upper bounds on the run's metrics, each judged as a check of the metric's name (none: `{}`). */
  readonly bounds: Readonly<Record<string, number>>
}


export { LIMITS } from "./scenario-limits.ts"


/** Reads and validates a scenario file. Throws a {@link ScenarioError} with a one-line message on bad input. */
export const loadScenario = (file: string): Scenario => {
  const read = readInputFile(file, "scenario file")
  if ("problem" in read) throw new ScenarioError(read.problem)
  return parseScenario(read.text, file)
}

/** Validates scenario text (YAML); `file` is used in messages. */
export const parseScenario = (text: string, file: string): Scenario => {
  return scenarioFromObject(parseScenarioYaml(text, file), file)
}

/** Validates a scenario given as a plain object (what the YAML holds); for tests and the library API. */
export const scenarioFromObject = (raw: unknown, file = "<inline scenario>"): Scenario => {
  const decoded = Schema.decodeUnknownExit(ScenarioInput)(raw, { onExcessProperty: "error", errors: "first" })
  if (Exit.isFailure(decoded)) throw new ScenarioError(`${file}: ${describeSchemaError(decoded.cause)}`)
  return resolve(decoded.value, file)
}


const latency = (input: LatencyInput, path: string, file: string): LatencyDistribution => {
  switch (input.distribution) {
    case "constant":
      return { _tag: "Constant", ms: input.ms }
    case "uniform":
      if (input.maxMs < input.minMs) throw new ScenarioError(`${file}: ${path}.maxMs: must not be below minMs`)
      return { _tag: "Uniform", minMs: input.minMs, maxMs: input.maxMs }
    case "exponential": {
      const minMs = input.minMs ?? 0
      if (input.meanMs < minMs) throw new ScenarioError(`${file}: ${path}.meanMs: must not be below minMs`)
      return { _tag: "Exponential", meanMs: input.meanMs, minMs }
    }
    case "long-tail":
      if (input.p99Ms < input.medianMs || input.medianMs <= 0) {
        throw new ScenarioError(`${file}: ${path}.p99Ms: must be at least medianMs, and medianMs above zero`)
      }
      return { _tag: "LongTail", medianMs: input.medianMs, p99Ms: input.p99Ms }
  }
}

/** A link's long-delay fields as given, with the range checked; empty when it gives none. */
const longDelays = (
  input: { readonly longDelayRate?: number | undefined; readonly longDelayMs?: readonly [number, number] | undefined },
  path: string,
  file: string
): Pick<LinkModel, "longDelayRate" | "longDelayMs"> => {
  const range = input.longDelayMs
  if (range !== undefined && range[1] < range[0]) {
    throw new ScenarioError(`${file}: ${path}.longDelayMs: the upper bound ${range[1]} is below the lower bound ${range[0]}`)
  }
  return {
    ...(input.longDelayRate === undefined ? {} : { longDelayRate: input.longDelayRate }),
    ...(range === undefined ? {} : { longDelayMs: [range[0], range[1]] as const })
  }
}

type LinkFieldsInput = NonNullable<ScenarioInput["network"]>["liveness"] & {}

/** The link fields given at `path` (a link override, the liveness network), and only those. */
const linkFields = (input: LinkFieldsInput, path: string, file: string): Partial<LinkModel> => ({
  ...(input.latency === undefined ? {} : { latency: latency(input.latency, `${path}.latency`, file) }),
  ...(input.lossRate === undefined ? {} : { lossRate: input.lossRate }),
  ...(input.duplicateRate === undefined ? {} : { duplicateRate: input.duplicateRate }),
  ...(input.reorderRate === undefined ? {} : { reorderRate: input.reorderRate }),
  ...(input.reorderWindowMs === undefined ? {} : { reorderWindowMs: input.reorderWindowMs }),
  ...longDelays(input, path, file)
})

const resolve = (input: ScenarioInput, file: string): Scenario => {
  checkLimits(input, file)
  const servers = serverIds(input.nodes)
  const known = new Set(servers)
  const checkNode = (node: string, path: string): string => {
    if (!known.has(node)) {
      throw new ScenarioError(`${file}: ${path}: unknown node ${node} (this scenario has ${servers[0]}..${servers.at(-1)})`)
    }
    return node
  }
  const net = input.network ?? {}
  const defaults: LinkModel = {
    latency: net.latency === undefined ? { _tag: "Constant", ms: 1 } : latency(net.latency, "network.latency", file),
    lossRate: net.lossRate ?? 0,
    duplicateRate: net.duplicateRate ?? 0,
    reorderRate: net.reorderRate ?? 0,
    reorderWindowMs: net.reorderWindowMs ?? 10,
    ...longDelays(net, "network", file)
  }
  // The liveness phase's network: the fields given, the rest as the network's own defaults.
  const liveness = net.liveness === undefined ? undefined : { ...defaults, ...linkFields(net.liveness, "network.liveness", file) }
  const links = (net.links ?? []).map((link, index) => {
    const path = `network.links[${index}]`
    checkNode(link.from, `${path}.from`)
    checkNode(link.to, `${path}.to`)
    return { from: link.from, to: link.to, ...linkFields(link, path, file) }
  })
  const disk: DiskModel = {
    syncLatency: input.disk?.syncLatency === undefined ? undefined : latency(input.disk.syncLatency, "disk.syncLatency", file),
    writeErrorRate: input.disk?.writeErrorRate ?? 0
  }
  const duration = durationMs(input.duration)
  const livenessMs = input.liveness === undefined ? 0 : durationMs(input.liveness)
  const scheduled = (input.faults?.scheduled ?? []).map((entry, index) =>
    scheduledFault(entry, `faults.scheduled[${index}]`, { file, checkNode, durationMs: duration, livenessMs })
  )
  return {
    file,
    name: input.name ?? file,
    description: input.description ?? "",
    protocol: input.protocol,
    options: input.options ?? {},
    workload: input.workload ?? {},
    nodes: input.nodes,
    seed: input.seed ?? 1,
    durationMs: duration,
    livenessMs,
    network: { defaults, links, ...(liveness === undefined ? {} : { liveness }) },
    disk,
    scheduled,
    random: randomFaults(input.faults?.random, input.nodes),
    ...resolveChecks(input.checks, file)
  }
}

type CheckEntry = string | Readonly<Record<string, number>>

// Array.isArray does not narrow a readonly array out of a union, so the test is spelled out.
const isCheckList = (input: ReadonlyArray<CheckEntry> | Readonly<Record<string, number>>): input is ReadonlyArray<CheckEntry> =>
  Array.isArray(input)

/** The check names and metric bounds of a scenario's `checks`, with a bound given twice refused. */
const resolveChecks = (
  input: ScenarioInput["checks"],
  file: string
): { checks: ReadonlyArray<string> | undefined; bounds: Readonly<Record<string, number>> } => {
  if (input === undefined) return { checks: undefined, bounds: {} }
  if (!isCheckList(input)) return { checks: undefined, bounds: { ...input } }
  const names: Array<string> = []
  const bounds: Record<string, number> = {}
  let boundsGiven = false
  input.forEach((entry, index) => {
    if (typeof entry === "string") return void names.push(entry)
    boundsGiven = true
    for (const [name, bound] of Object.entries(entry)) {
      if (name in bounds) throw new ScenarioError(`${file}: checks[${index}].${name}: bounded twice`)
      bounds[name] = bound
    }
  })
  // A list of bounds alone judges every check besides, as the bounds-only form does.
  return { checks: boundsGiven && names.length === 0 ? undefined : names, bounds }
}

const scheduledFault = (
  entry: ScheduledFaultInput,
  path: string,
  context: { file: string; checkNode: (node: string, path: string) => string; durationMs: number; livenessMs: number }
): ScheduledFault => {
  const { file, checkNode } = context
  const atMs = durationMs(entry.at)
  // Faults belong to the safety phase: the liveness phase starts by healing everything, and a
  // fault in it would make the progress it must show impossible to judge.
  if (atMs >= context.durationMs + context.livenessMs) {
    throw new ScenarioError(`${file}: ${path}.at: ${entry.at} is after the run ends (at ${formatDuration(context.durationMs + context.livenessMs)})`)
  }
  if (atMs >= context.durationMs) {
    throw new ScenarioError(
      `${file}: ${path}.at: ${entry.at} is in the liveness phase, which starts at ${formatDuration(context.durationMs)} by healing every fault; ` +
        `faults belong before it (or lengthen duration)`
    )
  }
  const kinds = Object.keys(entry).filter((key) => key !== "at" && key !== "torn")
  if (kinds.length !== 1) {
    throw new ScenarioError(
      `${file}: ${path}: needs exactly one fault (partition, partitionOneWay, heal, crash, restart, pause, resume, ` +
        `clockOffset, clockStep, clockDrift, clog, unclog), found ${kinds.length === 0 ? "none" : kinds.join(", ")}`
    )
  }
  if (entry.torn !== undefined && entry.crash === undefined) {
    throw new ScenarioError(`${file}: ${path}.torn: only a crash can tear a write`)
  }
  const nodes = (list: ReadonlyArray<string>, listPath: string) =>
    list.map((node, index) => checkNode(node, `${listPath}[${index}]`))
  let fault: Fault
  if (entry.partition !== undefined) {
    fault = { _tag: "Partition", groups: entry.partition.map((group, index) => nodes(group, `${path}.partition[${index}]`)) }
  } else if (entry.partitionOneWay !== undefined) {
    fault = {
      _tag: "PartitionOneWay",
      from: nodes(entry.partitionOneWay.from, `${path}.partitionOneWay.from`),
      to: nodes(entry.partitionOneWay.to, `${path}.partitionOneWay.to`)
    }
  } else if (entry.heal !== undefined) {
    fault = { _tag: "Heal" }
  } else if (entry.crash !== undefined) {
    fault = { _tag: "Crash", node: checkNode(entry.crash, `${path}.crash`), torn: entry.torn ?? false }
  } else if (entry.restart !== undefined) {
    fault = { _tag: "Restart", node: checkNode(entry.restart, `${path}.restart`) }
  } else if (entry.pause !== undefined) {
    fault = { _tag: "Pause", node: checkNode(entry.pause, `${path}.pause`) }
  } else if (entry.resume !== undefined) {
    fault = { _tag: "Resume", node: checkNode(entry.resume, `${path}.resume`) }
  } else if (entry.clockOffset !== undefined) {
    fault = { _tag: "ClockOffset", node: checkNode(entry.clockOffset.node, `${path}.clockOffset.node`), ms: entry.clockOffset.ms }
  } else if (entry.clockStep !== undefined) {
    fault = { _tag: "ClockStep", node: checkNode(entry.clockStep.node, `${path}.clockStep.node`), ms: entry.clockStep.ms }
  } else if (entry.clockDrift !== undefined) {
    fault = { _tag: "ClockDrift", node: checkNode(entry.clockDrift.node, `${path}.clockDrift.node`), rate: entry.clockDrift.rate }
  } else if (entry.clog !== undefined) {
    fault = { _tag: "Clog", from: checkNode(entry.clog.from, `${path}.clog.from`), to: checkNode(entry.clog.to, `${path}.clog.to`) }
  } else {
    const link = entry.unclog!
    fault = { _tag: "Unclog", from: checkNode(link.from, `${path}.unclog.from`), to: checkNode(link.to, `${path}.unclog.to`) }
  }
  return { atMs, fault }
}

const randomFaults = (input: RandomFaultsInput | undefined, nodes: number): RandomFaults => ({
  partitions: {
    ratePerSecond: input?.partitions?.ratePerSecond ?? 0,
    durationMs: input?.partitions?.durationMs ?? [500, 3000],
    oneWayRate: input?.partitions?.oneWayRate ?? 0.25
  },
  crashes: {
    ratePerSecond: input?.crashes?.ratePerSecond ?? 0,
    durationMs: input?.crashes?.durationMs ?? [200, 2000],
    tornRate: input?.crashes?.tornRate ?? 0.5
  },
  pauses: { ratePerSecond: input?.pauses?.ratePerSecond ?? 0, durationMs: input?.pauses?.durationMs ?? [100, 1000] },
  clogs: { ratePerSecond: input?.clogs?.ratePerSecond ?? 0, durationMs: input?.clogs?.durationMs ?? [100, 1000] },
  stalls: { ratePerSecond: input?.stalls?.ratePerSecond ?? 0, durationMs: input?.stalls?.durationMs ?? [1000, 5000] },
  bounces: { ratePerSecond: input?.bounces?.ratePerSecond ?? 0, durationMs: input?.bounces?.durationMs ?? [1, 50] },
  clockSteps: { ratePerSecond: input?.clockSteps?.ratePerSecond ?? 0, maxMs: input?.clockSteps?.maxMs ?? 1000 },
  clockDrifts: { ratePerSecond: input?.clockDrifts?.ratePerSecond ?? 0, maxRate: input?.clockDrifts?.maxRate ?? 0.01 },
  // A minority may be down at once unless the scenario says otherwise.
  maxDown: input?.maxDown ?? Math.floor((nodes - 1) / 2)
})
