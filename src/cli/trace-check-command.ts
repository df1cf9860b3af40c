// `faultline trace-check`: merges the trace files of a real cluster's run and judges them with the protocol's own checkers.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Checker } from "../check/checker.ts"
import { errorMessage } from "../definition/error-location.ts"
import { LOAD_WORKLOAD_FILE, readCluster } from "./cluster-file.ts"
import { buildForCluster } from "./cluster-options.ts"
import { UsageError } from "./errors.ts"
import { loadProtocols } from "./protocols.ts"
import { parseTraceEvents, type TraceFileEvent } from "../trace/index.ts"

/** Flags of `faultline trace-check`. */
export interface TraceCheckFlags {
  readonly data?: string
  readonly json?: boolean
}

/** The trace files of a cluster's run: each node's (`n1.trace.jsonl`) and each load client's (`clients/*.trace.jsonl`). */
const traceFiles = (dataRoot: string): Array<string> => {
  const files = readdirSync(dataRoot).filter((name) => name.endsWith(".trace.jsonl")).map((name) => join(dataRoot, name))
  const clients = join(dataRoot, "clients")
  if (existsSync(clients)) files.push(...readdirSync(clients).filter((name) => name.endsWith(".trace.jsonl")).map((name) => join(clients, name)))
  return files.sort()
}

/** The workload a `faultline load` recorded; a file that is not a JSON object is named. */
const readWorkload = (file: string): Record<string, unknown> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"))
  } catch (error) {
    throw new UsageError(`${file}: not JSON (${errorMessage(error)})`)
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new UsageError(`${file}: expected the JSON object of a load's workload`)
  return parsed as Record<string, unknown>
}

/**
 * Gives a checker one event. Checkers trust an event's attributes, as the protocol wrote them;
 * a trace file on disk may hold any, so a checker that cannot read one names the line.
 */
const feed = (checker: Checker, event: TraceFileEvent): void => {
  try {
    checker.onEvent(event)
  } catch (error) {
    throw new UsageError(`${event.place}: the checkers cannot read this "${event.name}" event (${errorMessage(error)})`)
  }
}

/**
 * Runs the command: every event of every trace, on the cluster's one time line, through the
 * checkers the protocol's definition builds. Safety checks are judged; liveness checks are not,
 * since a real run has no healed phase the tool controls. Exit 0 every judged check holds, 1 one
 * was violated, 2 bad input.
 */
export const traceCheckCommand = async (flags: TraceCheckFlags): Promise<number> => {
  const dataRoot = flags.data ?? "data"
  const description = readCluster(dataRoot)
  const protocols = await loadProtocols(description.protocolsModule)
  const definition = protocols.get(description.protocol)
  if (definition === undefined) throw new UsageError(`${dataRoot}: the cluster's protocol "${description.protocol}" is not known here`)
  const events: Array<TraceFileEvent> = []
  const files = traceFiles(dataRoot)
  if (files.length === 0) throw new UsageError(`--data: no trace files in ${dataRoot}`)
  for (const file of files) {
    const parsed = parseTraceEvents(readFileSync(file, "utf8"), file)
    if (typeof parsed === "string") throw new UsageError(parsed)
    // One by one: a spread of a long run's events (a few hundred thousand) overflows the call stack.
    for (const event of parsed) events.push(event)
  }
  // A stable sort: events of one node at one microsecond keep their order.
  events.sort((left, right) => left.timeUs - right.timeUs)
  const servers = description.nodes.map((node) => node.id)
  // The checkers judge the run as its nodes ran: with the cluster's options (a quorum store's N decides the owners).
  // And with the workload the clients ran (a search's k and data set decide what recall means).
  const workloadFile = join(dataRoot, "clients", LOAD_WORKLOAD_FILE)
  const workload = existsSync(workloadFile) ? readWorkload(workloadFile) : undefined
  const built = buildForCluster({ definition, nodes: servers.length, options: description.options, ...(workload === undefined ? {} : { workload }), file: `${dataRoot}/cluster.json` })
  for (const event of events) for (const checker of built.checkers) feed(checker, event)
  const endUs = events.at(-1)?.timeUs ?? 0
  for (const checker of built.checkers) checker.finish({ timeUs: endUs, up: servers })
  const judged = built.checkers.flatMap((checker) => checker.checks.filter((check) => checker.livenessChecks?.includes(check) !== true))
  const violations = built.checkers.flatMap((checker) => checker.violations).filter((violation) => judged.includes(violation.check))
  const results = judged.map((check) => ({ check, ok: !violations.some((violation) => violation.check === check) }))
  if (flags.json === true) {
    const notes = built.checkers.flatMap((checker) => checker.notes ?? [])
    process.stdout.write(JSON.stringify({ files: files.length, events: events.length, checks: results, violations, notes }, null, 2) + "\n")
  } else {
    const lines = [
      `${files.length} trace files, ${events.length.toLocaleString("en-US")} events, ${(endUs / 1e6).toFixed(1)} s`,
      `  checks       ${results.map((result) => `${result.ok ? "✓" : "✗"} ${result.check}`).join("  ")}`,
      ...violations.map((violation) => `  ✗ ${violation.check} at ${(violation.timeUs / 1e6).toFixed(3)} s: ${violation.message}`),
      ...built.checkers.flatMap((checker) => checker.notes ?? []).map((note) => `  note         ${note}`)
    ]
    process.stdout.write(lines.join("\n") + "\n")
  }
  return violations.length === 0 ? 0 : 1
}
