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
export const ExitCode = { ok: 0, violated: 1, badInput: 2, unknown: 3, failed: 4 } as const

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
const protocolOption = ["--protocol <name>", "run this protocol in place of the scenario's own (a variant over a shipped scenario)"] as const

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
  .option("--view <file>", "also write the run as one self-contained HTML page (see faultline view)")
  .option("--otlp <file>", "write the run's spans as OpenTelemetry OTLP JSON (simulated time; ids from the seed)")
  .option("--otlp-endpoint <url>", "post the run's spans to an OTLP/HTTP collector, such as http://localhost:4318")
  .option("--otlp-origin <ms|now>", "where simulated time 0 falls in exported spans (Unix ms; default 0, the epoch)")
  .option(...protocolOption)
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
  .option("--fixed-faults", "run the scenario as written (its faults, network, options and workload) instead of drawing them per seed")
  .option("--json", "print a machine-readable report (faultline replay reads it)")
  .option(...protocolOption)
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
  .option(...protocolOption)
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
  .option(...protocolOption)
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

program
  .command("view")
  .description("Turn a run into one self-contained HTML page: messages, faults, client operations, checks, replay command")
  .argument("<input>", "a trace (faultline run --trace FILE), or a scenario file (.yaml) to run and view")
  .option("-o, --output <file>", "where to write the page (default: the trace's name with .html, or <scenario>.html here)")
  .option("--seed <n>", "seed, when viewing a scenario (default: the scenario's)")
  .option("--swarm", "when viewing a scenario: draw the fault mix from the seed, as faultline swarm does")
  .option(...protocolOption)
  .option(...protocolsOption)
  .addHelpText(
    "after",
    "\nThe page opens from disk with no server and no network. Exit codes: for a trace, 0 the page was written;\n" +
      "for a scenario, as faultline run (0 every check holds, 1 a check was violated); 2 bad input.\n" +
      "Example: faultline run scenarios/raft-figure-8.yaml --trace f8.jsonl && faultline view f8.jsonl"
  )
  .action(async (file: string, flags) => {
    if (/\.ya?ml$/i.test(file)) await checkLimitsFirst(file)
    const { viewCommand } = await import("./view-command.ts")
    exitCode = await viewCommand(file, flags)
  })

/** `--option NAME=VALUE`, repeated: a real cluster's protocol options (over the protocol's cluster defaults). */
const collect = (value: string, previous: Array<string> | undefined): Array<string> => [...(previous ?? []), value]
const optionOption = ["--option <name=value>", "a protocol option, repeatable (quorum: n=3, r=2, w=2, sloppyQuorum=false, ...)", collect] as const

const dataOption = ["--data <dir>", "the cluster's data directory, where cluster up keeps its description and secret", "data"] as const

program
  .command("node")
  .description("Run one server of a protocol as a real process on TCP and disk, until SIGINT or SIGTERM")
  .requiredOption("--protocol <name>", "the protocol, such as raft")
  .requiredOption("--id <id>", "this node's id: n1..nN in a cluster of N")
  .option("--listen <host:port>", "where it listens for its peers (loopback unless told otherwise)", "127.0.0.1:7001")
  .option("--peers <list>", "the other nodes, as n2=127.0.0.1:7002,n3=127.0.0.1:7003")
  .requiredOption("--data <dir>", "its data directory, which must exist")
  .option("--secret-file <file>", "the cluster's shared secret (default: cluster.secret beside the data directory)")
  .option("--http <host:port>", "also serve key-value operations as HTTP/JSON here")
  .option("--clock-origin <unix-ms>", "count the trace clock from this instant, as the cluster's other nodes do")
  .option(...optionOption)
  .option(...protocolsOption)
  .addHelpText("after", "\nExit codes: 0 stopped by SIGINT or SIGTERM, 2 cannot start (bad input: flags, data directory, secret, port in use), 4 stopped on an error.")
  .action(async (flags) => {
    const { nodeCommand } = await import("./node-command.ts")
    exitCode = await nodeCommand(flags)
  })

const cluster = program.command("cluster").description("Start, inspect and stop a local cluster of real node processes")

cluster
  .command("up")
  .description("Start a local cluster: one process per node, on loopback, described in the data directory")
  .option("--protocol <name>", "the protocol (raft, quorum, search)", "raft")
  .option("--nodes <n>", "how many nodes", "3")
  .option("--base-port <port>", "node i listens on base+i and serves HTTP on base+100+i", "7000")
  .option(...dataOption)
  .option("--detach", "leave it running in the background (stop it with cluster down)")
  .option(...optionOption)
  .option(...protocolsOption)
  .addHelpText("after", "\nExit codes: 0 started (and, in the foreground, stopped by Ctrl-C), 2 bad input or a node failed to start.")
  .action(async (flags) => {
    const { clusterUpCommand } = await import("./cluster-command.ts")
    exitCode = await clusterUpCommand(flags)
  })

cluster
  .command("status")
  .description("Each node's id, address, process and role; the leader is marked leader")
  .option(...dataOption)
  .option("--json", "print it as JSON")
  .addHelpText("after", "\nExit codes: 0 printed, 2 bad input (no cluster in the data directory).")
  .action(async (flags) => {
    const { clusterStatusCommand } = await import("./cluster-command.ts")
    exitCode = await clusterStatusCommand(flags)
  })

cluster
  .command("down")
  .description("Stop a cluster started with cluster up --detach")
  .option(...dataOption)
  .addHelpText("after", "\nExit codes: 0 stopped (or nothing was running), 2 bad input.")
  .action(async (flags) => {
    const { clusterDownCommand } = await import("./cluster-command.ts")
    exitCode = await clusterDownCommand(flags)
  })

program
  .command("client")
  .description(
    "An operation on a real cluster, as its protocol reads it. Raft: get KEY, put KEY VALUE, cas KEY EXPECTED NEW, append KEY VALUE, delete KEY. " +
      "Quorum: get KEY (siblings and their context), put KEY VALUE [CONTEXT], replica KEY NODE (that node's own copy, no quorum). " +
      "Search: insert COUNT [FIRST] (the cluster's generated vectors), put ID VECTOR, query INDEX|VECTOR [K] [EF], delete ID"
  )
  .argument("<operation>", "such as get or put")
  .argument("[args...]", "the key, then values (JSON; text that is not JSON is a string)")
  .option(...dataOption)
  .option("--peers <list>", "the servers, as n1=127.0.0.1:7001,... (instead of --data)")
  .option("--protocol <name>", "the cluster's protocol, with --peers (--data: the cluster's own)", "raft")
  .option(...protocolsOption)
  .option("--secret-file <file>", "the cluster's secret (default: the one --data names)")
  .option("--timeout <duration>", "give up on an answer after this long (500ms, 10s, 2m; a bare number is ms)", "10s")
  .option("--json", "print the answer as JSON")
  .addHelpText(
    "after",
    "\nExit codes: 0 a definite answer (a cas that did not match too: it says so), 2 bad input, 3 unknown outcome (no answer in time)."
  )
  .action(async (operation: string, args: Array<string>, flags) => {
    const { clientCommand } = await import("./client-command.ts")
    exitCode = await clientCommand(operation, args, flags)
  })

program
  .command("load")
  .description("Concurrent clients (the protocol's workload) against a real cluster, recording the history they saw")
  .option("--clients <n>", "clients, each its own session", "4")
  .option("--operations <n>", "operations per client (search: queries, after its inserts)", "50")
  .option("--keys <n>", "keys they share", "4")
  .option("--history <file>", "write the history as JSON Lines, for faultline check")
  .option("--workload <name=value>", "a field of the protocol's workload, over what the sizes make of it (such as vectors=3000 for search); repeatable", collect)
  .option(...dataOption)
  .option("--peers <list>", "the servers, as n1=127.0.0.1:7001,... (instead of --data)")
  .option("--protocol <name>", "the cluster's protocol, with --peers (--data: the cluster's own)", "raft")
  .option(...protocolsOption)
  .option("--secret-file <file>", "the cluster's secret (default: the one --data names)")
  .addHelpText("after", "\nExit codes: 0 the clients finished (outcomes are in the history), 2 bad input, 4 a client stopped on an error.")
  .action(async (flags) => {
    const { clientLoadCommand } = await import("./client-command.ts")
    exitCode = await clientLoadCommand(flags)
  })

program
  .command("trace-check")
  .description("Merge the trace files of a real cluster's run and judge them with the protocol's checkers")
  .option(...dataOption)
  .option("--json", "print the verdict as JSON")
  .addHelpText("after", "\nExit codes: 0 every safety check holds, 1 a check was violated, 2 bad input.")
  .action(async (flags) => {
    const { traceCheckCommand } = await import("./trace-check-command.ts")
    exitCode = await traceCheckCommand(flags)
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
      // Its suggestion ("(Did you mean --seed?)") comes on a line of its own: one line, as all bad input.
      process.stderr.write(`faultline: ${error.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ")}\n`)
      return ExitCode.badInput
    }
    // A ScenarioError can only come from a command that has loaded the scenario module already.
    const { ScenarioError } = await import("../definition/input.ts")
    if (error instanceof ScenarioError || error instanceof UsageError) {
      process.stderr.write(`faultline: ${error.message}\n`)
      return ExitCode.badInput
    }
    return stoppedOnError(error)
  }
}

/**
 * Anything the commands do not expect stops the command with exit 4, never 1, which is kept for a
 * violated check: the operating system refusing a call (ENOTDIR, ENOSPC, EACCES) in one line, as
 * an environment failure; anything else as Faultline's own, with the stack for the bug report.
 */
const stoppedOnError = (error: unknown): number => {
  const system = error as { code?: unknown; syscall?: unknown; path?: unknown; message?: unknown }
  if (typeof system.code === "string" && typeof system.syscall === "string") {
    process.stderr.write(`faultline: ${system.syscall}${typeof system.path === "string" ? ` ${system.path}` : ""} failed (${system.code})\n`)
  } else {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
    process.stderr.write(`faultline: stopped on an error of its own (a bug; please report it with the command that led to it):\n${text}\n`)
  }
  return ExitCode.failed
}

// Errors raised outside a command's own flow (a callback, a promise nobody awaits) stop it the same way.
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (error: unknown) => process.exit(stoppedOnError(error)))
}

// A reader that goes away early (`faultline run --help | head`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
  throw error
})

process.exitCode = await main(process.argv)
