// The faultline command line: parses flags with commander and maps every error to the documented exit codes.
import { readFileSync } from "node:fs"
import { Command, CommanderError } from "commander"
import { UsageError } from "./errors.ts"

// Each command's module is imported when that command runs, not before: the simulator commands load
// Effect (about half a second), which `--help` and `check` never need.

/** Refuses a scenario beyond the simulator's limits before the command's modules (and Effect) load. */
const checkLimitsFirst = async (file: string): Promise<void> => {
  const { checkScenarioFileLimits } = await import("../sim/scenario-limits.ts")
  checkScenarioFileLimits(file)
}

/** Exit codes shared by every command. */
export const ExitCode = { ok: 0, violated: 1, badInput: 2, unknown: 3 } as const

/** The package's version; package.json sits two folders up from both src/cli and dist/cli. */
const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version

const program = new Command()
  .name("faultline")
  .description("Deterministic simulation testing for distributed protocols")
  .version(version, "-V, --version", "print the version")
  .exitOverride()
  .configureOutput({
    // Commander's own errors ("unknown option") become our one-line, exit-2 errors below.
    outputError: () => {}
  })

let exitCode: number = ExitCode.ok

const protocolsOption = ["--protocols <module>", "also load the protocols a module exports as `protocols` (your own, or test fixtures)"] as const

program
  .command("run")
  .description("Run a scenario with one seed and check it")
  .argument("<scenario>", "scenario file (YAML), such as scenarios/causal-broadcast-partitions.yaml")
  .option("--seed <n>", "seed of the run (default: the scenario's seed)")
  .option("--trace <file>", "write every event of the run as JSON Lines")
  .option("--history <file>", "write the clients' history as JSON Lines (Jepsen format), for faultline check")
  .option("--json", "print the summary as JSON")
  .option("--check-determinism", "run the seed twice and name the first event that differs")
  .option("--swarm", "draw the fault mix from the seed, as faultline swarm does")
  .option(...protocolsOption)
  .addHelpText(
    "after",
    "\nExit codes: 0 every check holds, 1 a check was violated (the replay command is printed), 2 bad input.\n" +
      "Example: faultline run scenarios/causal-broadcast-partitions.yaml --seed 7 --check-determinism"
  )
  .action(async (file: string, flags) => {
    await checkLimitsFirst(file)
    const { runCommand } = await import("./run-command.ts")
    exitCode = await runCommand(file, flags)
  })

program
  .command("check")
  .description("Check a history (JSON Lines, Jepsen format) for linearizability")
  .argument("<history>", "history file, as written by `faultline run --history FILE`")
  .option("--model <model>", "the data model the history is checked against", "kv")
  .option("--time-limit <duration>", "give up with 'unknown' after this long (500ms, 10s, 2m; a bare number is ms)", "60s")
  .option("--json", "print the verdict as JSON")
  .addHelpText(
    "after",
    "\nExit codes: 0 linearizable, 1 not linearizable (the smallest offending operations are printed),\n" +
      "2 bad input (the line number is named), 3 unknown (the time limit ran out)."
  )
  .action(async (file: string, flags) => {
    const { checkCommand } = await import("./check-command.ts")
    exitCode = checkCommand(file, flags)
  })

program
  .command("swarm")
  .description("Run many seeds in parallel, each drawing its own fault mix, and group the failures")
  .argument("<scenario>", "scenario file (YAML)")
  .option("--seeds <range>", "seeds to run, such as 1..2000")
  .option("--count <n>", "run seeds 1..n (default 100)")
  .option("--workers <n>", "worker threads (default: one per core)")
  .option("--time-limit <duration>", "stop starting seeds after this long, such as 90s or 10m (a bare number is ms)")
  .option("--shard <i/n>", "run only shard i of n of the seeds (for a CI matrix or an indexed job)")
  .option("--stop-on-first", "stop at the first failure")
  .option("--fixed-faults", "use the scenario's faults as written instead of drawing a mix per seed")
  .option("--json", "print a machine-readable report (faultline replay reads it)")
  .option(...protocolsOption)
  .addHelpText("after", "\nExit codes: 0 no seed failed, 1 some seed failed (each group prints its replay command), 2 bad input.")
  .action(async (file: string, flags) => {
    await checkLimitsFirst(file)
    const { swarmCommand } = await import("./swarm-command.ts")
    exitCode = await swarmCommand(file, flags)
  })

program
  .command("shrink")
  .description("Shrink a failing run to a minimal scenario that fails the same check")
  .argument("<scenario>", "scenario file (YAML)")
  .requiredOption("--seed <n>", "seed of the failing run")
  .option("-o, --output <file>", "where to write the shrunk scenario", "repro.yaml")
  .option("--swarm", "the failure came from faultline swarm (the seed drew its fault mix)")
  .option("--max-runs <n>", "give up shrinking further after this many runs", "400")
  .option(...protocolsOption)
  .addHelpText(
    "after",
    "\nA step is kept only if the smaller run fails the same check for the same reason and fails no check the\n" +
      "original did not; a liveness failure keeps its whole liveness phase. The repro is verified when written.\n" +
      "Exit codes: 0 the repro was written, 2 bad input (or the seed does not fail)."
  )
  .action(async (file: string, flags) => {
    await checkLimitsFirst(file)
    const { shrinkCommand } = await import("./shrink-command.ts")
    exitCode = await shrinkCommand(file, flags)
  })

program
  .command("replay")
  .description("Rerun a reported failure and confirm its trace hash")
  .argument("<failure>", "a failure report (.json from swarm --json or run --json), or a scenario file with --seed")
  .option("--seed <n>", "seed, when replaying a scenario file")
  .option("--swarm", "the seed drew its fault mix (swarm mode)")
  .option(...protocolsOption)
  .addHelpText(
    "after",
    "\nA report carries the scenario's text and the protocols module's path, so it replays from any directory.\n" +
      "Exit codes: 0 every replay matches its recorded trace hash, 1 a replay differs (or, with no recorded hash,\n" +
      "a check was violated), 2 bad input."
  )
  .action(async (target: string, flags) => {
    const { replayCommand } = await import("./replay-command.ts")
    exitCode = await replayCommand(target, flags)
  })

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  try {
    await program.parseAsync(argv as Array<string>)
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return ExitCode.ok
      // Commander shows the help by itself when no command is given; that is still a usage error.
      if (error.code === "commander.help") return ExitCode.badInput
      process.stderr.write(`faultline: ${error.message.replace(/^error: /, "")}\n`)
      return ExitCode.badInput
    }
    // A ScenarioError can only come from a command that has loaded the scenario module already.
    const { ScenarioError } = await import("../definition/input.ts")
    if (error instanceof ScenarioError || error instanceof UsageError) {
      process.stderr.write(`faultline: ${error.message}\n`)
      return ExitCode.badInput
    }
    throw error
  }
}

// A reader that goes away early (`faultline run --help | head`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
  throw error
})

process.exitCode = await main(process.argv)
