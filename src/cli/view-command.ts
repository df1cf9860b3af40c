// `faultline view`: turns a run into one self-contained HTML page, from a trace file or by running a scenario.
import { readFileSync } from "node:fs"
import { basename, extname } from "node:path"
import { parseTraceFile } from "../trace/index.ts"
import { buildView } from "../view/build-view.ts"
import { viewPage } from "../view/page.ts"
import { UsageError } from "./errors.ts"
import { type RunFlags, runCommand } from "./run-command.ts"
import { writePage } from "./view-output.ts"

/** Flags of `faultline view`. */
export interface ViewFlags {
  readonly output?: string
  readonly seed?: string
  readonly swarm?: boolean
  readonly protocol?: string
  readonly protocols?: string
}

const isScenario = (file: string): boolean => [".yaml", ".yml"].includes(extname(file).toLowerCase())

/** Where the page goes by default: beside the trace, or named after the scenario and seed in this directory. */
const defaultOutput = (file: string, flags: ViewFlags): string =>
  isScenario(file)
    ? `${basename(file, extname(file))}${flags.seed === undefined ? "" : `-seed-${flags.seed}`}.html`
    : `${file.slice(0, file.length - extname(file).length)}.html`

const readText = (file: string): string => {
  try {
    return readFileSync(file, "utf8")
  } catch (error) {
    throw new UsageError(`${file}: cannot read the trace file (${(error as NodeJS.ErrnoException).code ?? "error"})`)
  }
}

/**
 * Runs the command. A scenario runs as `faultline run --view` would (and exits as it would: 1 when
 * a check was violated); a trace file is read through the trace schema's parser and exits 0 once
 * the page is written, whatever the run found.
 */
export const viewCommand = async (file: string, flags: ViewFlags): Promise<number> => {
  const output = flags.output ?? defaultOutput(file, flags)
  if (isScenario(file)) {
    const runFlags: RunFlags = { ...flags, view: output }
    return runCommand(file, runFlags)
  }
  if (flags.seed !== undefined || flags.swarm === true || flags.protocol !== undefined) {
    throw new UsageError(`${file}: --seed, --swarm and --protocol apply to a scenario file; a trace is viewed as it was recorded`)
  }
  const lines = parseTraceFile(readText(file), file)
  if (typeof lines === "string") throw new UsageError(lines)
  if (lines[0]?.e !== "run") throw new UsageError(`${file}:1: not a simulator trace (expected a "run" line first, as faultline run --trace writes)`)
  const bytes = writePage("--output", output, viewPage(buildView(lines, undefined, basename(file))))
  process.stdout.write(`view: wrote ${output} (${(bytes / 1e6).toFixed(1)} MB)\n`)
  return 0
}
