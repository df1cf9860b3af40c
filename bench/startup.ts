// Benchmark: how long the faultline command takes to start, compiled (bin/faultline.js, dist/) against the old way through tsx.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { median } from "./median.ts"

const root = fileURLToPath(new URL("..", import.meta.url))

/** Timed rounds after one warm-up round; each command keeps its median. Rounds interleave the commands. */
const rounds = 7

/** A history of three operations on one key, for `faultline check`. */
const threeOperations = [
  { index: 0, process: 1, type: "invoke", f: "write", key: "k1", value: 1, time: 0 },
  { index: 1, process: 1, type: "ok", f: "write", key: "k1", value: 1, time: 10 },
  { index: 2, process: 2, type: "invoke", f: "read", key: "k1", value: null, time: 20 },
  { index: 3, process: 2, type: "ok", f: "read", key: "k1", value: 1, time: 30 },
  { index: 4, process: 1, type: "invoke", f: "write", key: "k1", value: 2, time: 40 },
  { index: 5, process: 1, type: "ok", f: "write", key: "k1", value: 2, time: 50 }
]

/**
 * The old bin registered tsx and imported src/cli/main.ts, which imported every command's module
 * (and so all of Effect and the simulator) before it parsed a flag. Preloading those modules with
 * --import reproduces that whether or not main.ts imports its commands lazily.
 */
const commandModules = ["run-command.ts", "check-command.ts", "swarm-command.ts", "shrink-command.ts", "replay-command.ts"]

/** Start-up times in milliseconds (medians), and how many times faster the compiled `--help` is than the old way. */
export interface StartupResult {
  readonly compiledHelpMs: number
  readonly oldHelpMs: number
  readonly tsxHelpMs: number
  readonly compiledCheckMs: number
  readonly ratio: number
}

/** Runs one command with node and returns its wall time, failing loudly when it does not exit 0. */
const timed = (args: ReadonlyArray<string>): number => {
  const started = performance.now()
  const result = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" })
  const elapsedMs = performance.now() - started
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited ${result.status}: ${result.stderr}`)
  return elapsedMs
}


/**
 * Measures `faultline --help` through the compiled bin, the old way (through tsx, every command
 * loaded) and from source as the tests run it, and `faultline check` on a three-operation history. Builds dist/ first if it is missing. Prints the figures and returns them.
 */
export const benchStartup = (): StartupResult => {
  if (!existsSync(join(root, "dist", "cli", "main.js"))) {
    const build = spawnSync("npm", ["run", "build"], { cwd: root, encoding: "utf8" })
    if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr}`)
  }
  const directory = mkdtempSync(join(tmpdir(), "faultline-startup-"))
  const history = join(directory, "history.jsonl")
  writeFileSync(history, threeOperations.map((event) => JSON.stringify(event)).join("\n") + "\n")
  const commands = {
    compiledHelp: ["bin/faultline.js", "--help"],
    oldHelp: ["--import", "tsx", ...commandModules.flatMap((module) => ["--import", `./src/cli/${module}`]), "src/cli/main.ts", "--help"],
    tsxHelp: ["--import", "tsx", "src/cli/main.ts", "--help"],
    compiledCheck: ["bin/faultline.js", "check", history]
  } as const
  const times: Record<keyof typeof commands, Array<number>> = {
    compiledHelp: [],
    oldHelp: [],
    tsxHelp: [],
    compiledCheck: []
  }
  try {
    for (let round = 0; round <= rounds; round++) {
      for (const [name, args] of Object.entries(commands) as Array<[keyof typeof commands, ReadonlyArray<string>]>) {
        const elapsedMs = timed(args)
        if (round > 0) times[name].push(elapsedMs)
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
  const result: StartupResult = {
    compiledHelpMs: median(times.compiledHelp),
    oldHelpMs: median(times.oldHelp),
    tsxHelpMs: median(times.tsxHelp),
    compiledCheckMs: median(times.compiledCheck),
    ratio: median(times.oldHelp) / median(times.compiledHelp)
  }
  const row = (label: string, value: string) => console.log(`  ${label.padEnd(46)} ${value}`)
  console.log(`start-up of the faultline command, median of ${rounds} rounds (interleaved)`)
  row("faultline --help (compiled, bin/faultline.js)", `${result.compiledHelpMs.toFixed(0)} ms`)
  row("the old way: tsx, every command preloaded", `${result.oldHelpMs.toFixed(0)} ms`)
  row("compiled is faster by", `${result.ratio.toFixed(1)}x (target: 4x)`)
  row("node --import tsx src/cli/main.ts --help", `${result.tsxHelpMs.toFixed(0)} ms (source, as the tests run it)`)
  row("faultline check, 3-operation history", `${result.compiledCheckMs.toFixed(0)} ms`)
  return result
}

// `npx tsx bench/startup.ts` runs it on its own.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) benchStartup()
