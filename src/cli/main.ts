// The faultline command line: parses flags with commander and maps every error to the documented exit codes.
import { Command, CommanderError } from "commander"
import { ScenarioError } from "../sim/scenario.ts"
import { UsageError } from "./errors.ts"
import { checkCommand } from "./check-command.ts"
import { runCommand } from "./run-command.ts"

/** Exit codes shared by every command. */
export const ExitCode = { ok: 0, violated: 1, badInput: 2, unknown: 3 } as const

const program = new Command()
  .name("faultline")
  .description("Deterministic simulation testing for distributed protocols")
  .exitOverride()
  .configureOutput({
    // Commander's own errors ("unknown option") become our one-line, exit-2 errors below.
    outputError: () => {}
  })

let exitCode: number = ExitCode.ok

program
  .command("run")
  .description("Run a scenario with one seed and check it")
  .argument("<scenario>", "scenario file (YAML), such as scenarios/causal-broadcast-partitions.yaml")
  .option("--seed <n>", "seed of the run (default: the scenario's seed)")
  .option("--trace <file>", "write every event of the run as JSON Lines")
  .option("--history <file>", "write the clients' history as JSON Lines (Jepsen format), for faultline check")
  .option("--json", "print the summary as JSON")
  .option("--check-determinism", "run the seed twice and name the first event that differs")
  .addHelpText(
    "after",
    "\nExit codes: 0 every check holds, 1 a check was violated (the replay command is printed), 2 bad input.\n" +
      "Example: faultline run scenarios/causal-broadcast-partitions.yaml --seed 7 --check-determinism"
  )
  .action((file: string, flags) => {
    exitCode = runCommand(file, flags)
  })

program
  .command("check")
  .description("Check a history (JSON Lines, Jepsen format) for linearizability")
  .argument("<history>", "history file, as written by `faultline run --history FILE`")
  .option("--model <model>", "the data model the history is checked against", "kv")
  .option("--time-limit <seconds>", "give up with 'unknown' after this long", "60")
  .option("--json", "print the verdict as JSON")
  .addHelpText(
    "after",
    "\nExit codes: 0 linearizable, 1 not linearizable (the smallest offending operations are printed),\n" +
      "2 bad input (the line number is named), 3 unknown (the time limit ran out)."
  )
  .action((file: string, flags) => {
    exitCode = checkCommand(file, flags)
  })

const main = (argv: ReadonlyArray<string>): number => {
  try {
    program.parse(argv as Array<string>)
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return ExitCode.ok
      // Commander shows the help by itself when no command is given; that is still a usage error.
      if (error.code === "commander.help") return ExitCode.badInput
      process.stderr.write(`faultline: ${error.message.replace(/^error: /, "")}\n`)
      return ExitCode.badInput
    }
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

process.exitCode = main(process.argv)
