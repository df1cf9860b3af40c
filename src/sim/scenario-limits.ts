// The largest run the simulator takes on, checked before anything runs, and before the command line loads Effect.
import { formatDuration, parseDuration } from "../definition/duration.ts"
import { ScenarioError } from "../definition/input.ts"
import { readInputFile } from "./input-file.ts"
import { parseScenarioYaml } from "./scenario-yaml.ts"

/**
 * The largest run the simulator takes on, checked before anything runs: beyond these a run would
 * not finish in reasonable time or fit in memory on a developer's machine (see the scale table
 * in the README). Raising them is a matter of measuring first.
 */
export const LIMITS = {
  /** Servers in one run. */
  maxNodes: 128,
  /** Simulated time of each phase (faults, then liveness). */
  maxPhaseMs: 3_600_000
} as const

/**
 * Refuses a run beyond {@link LIMITS}, with the limit named. It reads the fields as written, so it
 * can run on a scenario before validation: a field of the wrong type is left to the schema.
 */
export const checkLimits = (input: { readonly nodes?: unknown; readonly duration?: unknown; readonly liveness?: unknown }, file: string): void => {
  if (typeof input.nodes === "number" && input.nodes > LIMITS.maxNodes) {
    throw new ScenarioError(`${file}: nodes: ${input.nodes} is above the maximum of ${LIMITS.maxNodes}`)
  }
  for (const field of ["duration", "liveness"] as const) {
    const value = input[field]
    if (typeof value !== "number" && typeof value !== "string") continue
    const ms = parseDuration(value)
    if (ms !== undefined && ms > LIMITS.maxPhaseMs) {
      throw new ScenarioError(`${file}: ${field}: ${value} is above the maximum of ${formatDuration(LIMITS.maxPhaseMs)} of simulated time`)
    }
  }
}

/**
 * Checks a scenario file's limits with nothing but a YAML parser, so that a run that could never
 * finish is refused in a fraction of a second. Anything else wrong with the file is left to the
 * full validation that follows.
 */
export const checkScenarioFileLimits = (file: string): void => {
  const read = readInputFile(file, "scenario file")
  if ("problem" in read) return
  // Malformed YAML is refused here as the full validation would refuse it, with the same message.
  const raw = parseScenarioYaml(read.text, file)
  if (typeof raw === "object" && raw !== null) checkLimits(raw as Record<string, unknown>, file)
}
