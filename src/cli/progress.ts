// Progress of a long run on stderr: nothing for a short run, a bar on a terminal, a line every few seconds elsewhere.
import cliProgress from "cli-progress"
import type { RunProgress } from "../sim/run.ts"

/** A run shows progress only once it has taken this long, so quick runs print nothing extra. */
const QUIET_MS = 2000
/** Off a terminal (CI, a log file), one line this often. */
const LINE_EVERY_MS = 5000

const number = (value: number): string => Math.round(value).toLocaleString("en-US")

/** The progress line's text: simulated time reached, events, their rate and the speed against real time. */
export const describeProgress = (progress: RunProgress, wallMs: number): string => {
  const percent = progress.endUs === 0 ? 100 : (progress.timeUs / progress.endUs) * 100
  const rate = wallMs > 0 ? (progress.events / wallMs) * 1000 : 0
  const speed = wallMs > 0 ? progress.timeUs / 1000 / wallMs : 0
  return (
    `simulated ${(progress.timeUs / 1e6).toFixed(1)} of ${(progress.endUs / 1e6).toFixed(1)} s (${percent.toFixed(0)}%) | ` +
    `${number(progress.events)} events, ${number(rate)}/s | ${speed.toFixed(1)}x real time`
  )
}

/** A progress display for one run; `update` is the run's onProgress, `stop` clears it. */
export const runProgress = (options: { readonly wanted: boolean; readonly label?: string }) => {
  const started = performance.now()
  const label = options.label === undefined ? "" : `${options.label}: `
  let bar: cliProgress.SingleBar | undefined
  let lastLineMs = 0
  const update = (progress: RunProgress) => {
    if (!options.wanted) return
    const wallMs = performance.now() - started
    if (wallMs < QUIET_MS) return
    if (process.stderr.isTTY === true) {
      if (bar === undefined) {
        bar = new cliProgress.SingleBar(
          { format: `  ${label}[{bar}] {text}`, stream: process.stderr, clearOnComplete: true, hideCursor: true },
          cliProgress.Presets.shades_classic
        )
        bar.start(progress.endUs, 0, { text: "" })
      }
      bar.update(progress.timeUs, { text: describeProgress(progress, wallMs) })
    } else if (wallMs - lastLineMs >= LINE_EVERY_MS) {
      lastLineMs = wallMs
      process.stderr.write(`  ${label}${describeProgress(progress, wallMs)}\n`)
    }
  }
  return { update, stop: () => bar?.stop() }
}
