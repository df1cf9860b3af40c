// `faultline replay`: reruns a reported failure and confirms that its trace hash is the one recorded.
import { resolve } from "node:path"
import { isRecord } from "../definition/input.ts"
import type { KnobValues } from "../definition/protocol.ts"
import { runScenario } from "../sim/run.ts"
import { loadScenario, parseScenario, type Scenario } from "../sim/scenario.ts"
import { type SwarmDraw, swarmScenario } from "../sim/swarm-faults.ts"
import { readInputFile } from "../sim/input-file.ts"
import { parseInteger, UsageError } from "./errors.ts"
import { loadProtocols } from "./protocols.ts"
import { formatSummary, replayFlags, withProtocol } from "./summary.ts"

/** Flags of `faultline replay`. */
export interface ReplayFlags {
  readonly seed?: string
  readonly swarm?: boolean
  readonly protocols?: string
  readonly protocol?: string
}

/** A failure to replay: from a swarm report's group, a run's --json summary, or the command line. */
interface Recorded {
  readonly scenario: string
  /** The scenario's text when the run was made; read from `scenario` when the report has none. */
  readonly scenarioText: string | undefined
  /** The absolute path of the protocols module the run used, if any. */
  readonly protocolsModule: string | undefined
  /** The protocol that ran in place of the scenario's own (`--protocol`), if any. */
  readonly protocolOverride: string | undefined
  readonly seed: number
  readonly swarm: boolean
  readonly traceHash: string | undefined
  /** The knobs the seed drew, as the report recorded them; replay runs with exactly these. */
  readonly knobs: KnobValues | undefined
  /** The workload shape the seed drew, as the report recorded it; replay runs with exactly this. */
  readonly workload: KnobValues | undefined
}

/** A report's `knobs` (or `workload`): an object of flags, numbers and names, or absent. */
const recordedKnobs = (value: unknown, file: string, where: string, field = "knobs"): KnobValues | undefined => {
  if (value === undefined || value === null) return undefined
  const valid =
    typeof value === "object" &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) =>
      typeof entry === "boolean" || typeof entry === "string" || (typeof entry === "number" && Number.isFinite(entry))
    )
  if (!valid) throw new UsageError(`${file}: ${where}${field}: expected an object of names to numbers, booleans or strings`)
  return value as KnobValues
}

const recordedFrom = (file: string): Array<Recorded> => {
  const read = readInputFile(file, "failure report")
  if ("problem" in read) throw new UsageError(read.problem)
  let value: unknown
  try {
    value = JSON.parse(read.text)
  } catch (error) {
    throw new UsageError(`${file}: not JSON (${(error as Error).message})`)
  }
  if (!isRecord(value)) throw new UsageError(`${file}: expected a failure report (a JSON object), found ${Array.isArray(value) ? "an array" : String(value)}`)
  const record = value
  const one = (entry: unknown, where: string): Recorded => {
    if (!isRecord(entry)) throw new UsageError(`${file}: ${where.replace(/\.$/, "")}: expected an object with the failure's scenario and seed`)
    if (typeof entry.scenario !== "string") throw new UsageError(`${file}: ${where}scenario: expected the scenario file's path`)
    if (typeof entry.seed !== "number" || !Number.isSafeInteger(entry.seed)) throw new UsageError(`${file}: ${where}seed: expected a whole number`)
    return {
      scenario: entry.scenario,
      scenarioText: typeof entry.scenarioText === "string" ? entry.scenarioText : undefined,
      protocolsModule: typeof entry.protocolsModule === "string" ? entry.protocolsModule : undefined,
      protocolOverride: typeof entry.protocolOverride === "string" ? entry.protocolOverride : undefined,
      seed: entry.seed,
      swarm: entry.swarm === true,
      traceHash: typeof entry.traceHash === "string" ? entry.traceHash : undefined,
      knobs: recordedKnobs(entry.knobs, file, where),
      workload: recordedKnobs(entry.workload, file, where, "workload")
    }
  }
  if (Array.isArray(record.groups)) {
    return record.groups.map((group: unknown, index) =>
      isRecord(group) ? one(group.failure, `groups[${index}].failure.`) : one(group, `groups[${index}].`))
  }
  return [one(record, "")]
}

/**
 * A swarm draw with the knobs and workload shape a report recorded in place of those drawn now:
 * the run is the one reported even if the protocol's declared knob values have changed since.
 */
const withRecordedKnobs = (drawn: { scenario: Scenario; draw: SwarmDraw }, entry: Recorded) => {
  const { knobs, workload } = entry
  const scenario = {
    ...drawn.scenario,
    ...(knobs === undefined ? {} : { options: { ...drawn.scenario.options, ...knobs } }),
    ...(workload === undefined ? {} : { workload: { ...drawn.scenario.workload, ...workload } })
  }
  return { scenario, draw: { ...drawn.draw, ...(knobs === undefined ? {} : { knobs }), ...(workload === undefined ? {} : { workload }) } }
}

const seedFlag = (text: string | undefined): number => {
  if (text === undefined) throw new UsageError("--seed: required when replaying a scenario file (or give a failure .json)")
  return parseInteger("--seed", text)
}

/** Runs the command: exit 0 when every replay matches its recorded hash and fails as recorded. */
export const replayCommand = async (target: string, flags: ReplayFlags): Promise<number> => {
  const recorded: Array<Recorded> = target.endsWith(".json")
    ? recordedFrom(target)
    : [
        {
          scenario: target,
          scenarioText: undefined,
          protocolsModule: undefined,
          protocolOverride: undefined,
          seed: seedFlag(flags.seed),
          swarm: flags.swarm === true,
          traceHash: undefined,
          knobs: undefined,
          workload: undefined
        }
      ]
  // The report names the module the run used, so no flag is needed; --protocols overrides it.
  const modules = new Set(recorded.map((entry) => flags.protocols ?? entry.protocolsModule))
  if (modules.size > 1) throw new UsageError(`${target}: its failures used different protocols modules; replay them one at a time`)
  const protocolsModule = [...modules][0]
  const protocols = await loadProtocols(protocolsModule)
  // A report's run reruns by replaying the report, with the flags that changed it here.
  const command = target.endsWith(".json")
    ? `npx faultline replay ${resolve(target)}${replayFlags({ protocol: flags.protocol, protocols: flags.protocols === undefined ? undefined : resolve(flags.protocols) })}`
    : undefined
  let exitCode = 0
  for (const entry of recorded) {
    const protocol = flags.protocol ?? entry.protocolOverride
    const scenario = entry.scenarioText === undefined ? loadScenario(entry.scenario) : parseScenario(entry.scenarioText, entry.scenario)
    const loaded = withProtocol(scenario, protocol, protocols, flags.protocol === undefined ? `${target}: protocolOverride` : "--protocol")
    const drawn = entry.swarm ? withRecordedKnobs(swarmScenario(loaded, entry.seed, protocols), entry) : undefined
    const result = runScenario(drawn?.scenario ?? loaded, { seed: entry.seed, protocols })
    process.stdout.write(formatSummary(result, { swarm: entry.swarm, protocols: protocolsModule, protocol, command }, drawn?.draw) + "\n")
    if (entry.traceHash === undefined) {
      process.stdout.write(`replayed seed ${entry.seed}; no recorded hash to compare with\n\n`)
      if (!result.ok) exitCode = Math.max(exitCode, 1)
    } else if (entry.traceHash === result.traceHash) {
      process.stdout.write(`✓ replay matches: trace hash ${result.traceHash}\n\n`)
    } else {
      process.stdout.write(`✗ replay differs: recorded ${entry.traceHash}, got ${result.traceHash} (has the code or the scenario changed?)\n\n`)
      exitCode = 1
    }
  }
  return exitCode
}
