// Writes the viewer page of a run (`faultline run --view`, `faultline view`), through the trace schema's one parser.
import { writeFileSync } from "node:fs"
import type { RunResult } from "../sim/run.ts"
import { readInputFile } from "../sim/input-file.ts"
import { parseTraceLine, type TraceLine } from "../trace/index.ts"
import { buildView } from "../view/build-view.ts"
import { viewPage } from "../view/page.ts"
import { UsageError } from "./errors.ts"
import { replayCommand, replayFlags, type ReplayOptions } from "./summary.ts"

/** The trace lines a run kept, read back as typed lines (the run kept them because the view asked). */
const typedLines = (result: RunResult): Array<TraceLine> =>
  (result.traceLines ?? []).map((text, index) => {
    const line = parseTraceLine(text)
    // The simulator wrote these lines through the same schema a moment ago; one it cannot read back is a bug.
    if (typeof line === "string") throw new Error(`trace line ${index + 1} does not read back: ${line}`)
    return line
  })

/** The viewer page of a run made with `keepTrace`: every check, the replay command and the scenario's text. */
export const runViewPage = (result: RunResult, replay: ReplayOptions): string => {
  const read = readInputFile(result.scenario.file, "scenario file")
  const data = buildView(
    typedLines(result),
    {
      title: `${result.scenario.name}, seed ${result.seed}`,
      checks: result.checks.map((check) => ({ name: check.name, ok: check.ok })),
      notes: result.notes,
      replay: replayCommand(result, replayFlags(replay)),
      traceHash: result.traceHash,
      parameters: "text" in read ? read.text : null,
      history: result.history
    },
    result.scenario.file
  )
  return viewPage(data)
}

/** Writes a page, naming the flag when the file cannot be written; returns its size in bytes. */
export const writePage = (flag: string, file: string, page: string): number => {
  try {
    writeFileSync(file, page)
  } catch (error) {
    throw new UsageError(`${flag}: cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`)
  }
  return Buffer.byteLength(page)
}
