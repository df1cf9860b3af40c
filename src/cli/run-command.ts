// `faultline run`: runs one scenario with one seed, prints the summary, optionally audits determinism.
import { writeFileSync } from "node:fs"
import { serializeHistoryEvent } from "../check/history.ts"
import { checkDeterminism, type DeterminismReport } from "../sim/determinism.ts"
import { buildProtocol, runScenario, type RunResult } from "../sim/run.ts"
import { loadScenario } from "../sim/scenario.ts"
import { swarmScenario } from "../sim/swarm-faults.ts"
import { parseInteger, UsageError } from "./errors.ts"
import { parseOtlpEndpoint, parseOtlpOrigin, postOtlp, writeOtlpFile } from "./otlp-output.ts"
import { loadProtocols } from "./protocols.ts"
import { runProgress } from "./progress.ts"
import { formatDivergence, formatSummary, summaryJson, withProtocol } from "./summary.ts"

/** Flags of `faultline run`, as commander hands them over. */
export interface RunFlags {
  readonly seed?: string
  readonly trace?: string
  readonly json?: boolean
  readonly checkDeterminism?: boolean
  readonly history?: string
  readonly swarm?: boolean
  readonly protocols?: string
  readonly protocol?: string
  readonly view?: string
  readonly otlp?: string
  readonly otlpEndpoint?: string
  readonly otlpOrigin?: string
}

/** Runs the command; returns the exit code (0 all checks hold, 1 a check was violated). */
export const runCommand = async (file: string, flags: RunFlags): Promise<number> => {
  const loaded = loadScenario(file)
  const builtinProtocols = await loadProtocols(flags.protocols)
  const seed = flags.seed === undefined ? loaded.seed : parseInteger("--seed", flags.seed)
  const chosen = withProtocol(loaded, flags.protocol, builtinProtocols)
  const drawn = flags.swarm === true ? swarmScenario(chosen, seed, builtinProtocols) : undefined
  const scenario = drawn?.scenario ?? chosen
  // Refused before the run, and before any file it would write replaces one already there.
  const definition = builtinProtocols.get(scenario.protocol)
  if (flags.history !== undefined && definition !== undefined && buildProtocol(definition, scenario).history === undefined) {
    throw new UsageError(`--history: protocol ${scenario.protocol} has no clients, so no history`)
  }
  const progress = runProgress({ wanted: flags.json !== true })
  const onProgress = progress.update
  const keepTrace = flags.trace !== undefined || flags.view !== undefined
  const otlpEndpoint = flags.otlpEndpoint === undefined ? undefined : parseOtlpEndpoint(flags.otlpEndpoint)
  const exportSpans = flags.otlp !== undefined || otlpEndpoint !== undefined
  const spanOriginUnixMs = parseOtlpOrigin(flags.otlpOrigin)
  let result: RunResult
  let determinism: DeterminismReport | undefined
  try {
    if (flags.checkDeterminism === true) {
      determinism = checkDeterminism(scenario, { seed, protocols: builtinProtocols, onProgress, exportSpans, spanOriginUnixMs })
      result = determinism.first
    } else {
      result = runScenario(scenario, { seed, keepTrace, protocols: builtinProtocols, onProgress, exportSpans, spanOriginUnixMs })
    }
  } finally {
    progress.stop()
  }
  if (flags.trace !== undefined) writeLines("--trace", flags.trace, result.traceLines ?? [])
  const spanExport = result.spanExport
  if (spanExport !== undefined) {
    // A collector takes the request whole; a file alone takes it piece by piece, never put together.
    const whole = otlpEndpoint === undefined ? undefined : spanExport.toOtlpBytes()
    if (flags.otlp !== undefined) writeOtlpFile(flags.otlp, whole === undefined ? (write) => spanExport.writeOtlp(write) : (write) => write(whole))
    if (whole !== undefined && otlpEndpoint !== undefined) await postOtlp(otlpEndpoint, whole)
  }
  if (flags.history !== undefined) {
    // The build checked before the run keeps one; a run without one is Faultline's own error.
    if (result.history === undefined) throw new Error(`protocol ${scenario.protocol} kept a history when built, but its run has none`)
    writeLines("--history", flags.history, result.history.map(serializeHistoryEvent))
  }
  // The replay command repeats the flags that shape the run, so that it reruns the same run.
  const replay = { swarm: flags.swarm, protocols: flags.protocols, protocol: flags.protocol }
  if (flags.view !== undefined) {
    const { runViewPage, writePage } = await import("./view-output.ts")
    const bytes = writePage("--view", flags.view, runViewPage(result, replay))
    if (flags.json !== true) process.stderr.write(`view: wrote ${flags.view} (${(bytes / 1e6).toFixed(1)} MB)\n`)
  }
  if (flags.json === true) {
    process.stdout.write(JSON.stringify(summaryJson(result, determinism, replay, drawn?.draw), null, 2) + "\n")
  } else {
    process.stdout.write(formatSummary(result, replay, drawn?.draw) + "\n")
    if (determinism !== undefined) {
      process.stdout.write(
        determinism.divergence === undefined
          ? `✓ determinism: seed ${seed} ran twice with identical traces (${result.traceEvents} lines)\n`
          : formatDivergence(determinism) + "\n"
      )
    }
  }
  return result.ok && determinism?.divergence === undefined ? 0 : 1
}

const writeLines = (flag: string, file: string, lines: ReadonlyArray<string>): void => {
  try {
    writeFileSync(file, lines.length === 0 ? "" : lines.join("\n") + "\n")
  } catch (error) {
    throw new UsageError(`${flag}: cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`)
  }
}
