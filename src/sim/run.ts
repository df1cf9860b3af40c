// Runs one scenario with one seed: builds the simulation, schedules the faults, runs both phases, collects the checks.
import type { Checker, Violation } from "../check/checker.ts"
import type { HistoryEvent } from "../check/history.ts"
import { boundViolations, type Metric } from "../check/metrics.ts"
import { applyFault, healEverything, planRandomFaults } from "./nemesis.ts"
import { errorMessage, formatPlace, userStackPlace } from "../definition/error-location.ts"
import type { ProtocolBuild, ProtocolDefinition } from "../definition/protocol.ts"
import { buildProblem } from "../definition/protocol-shape.ts"
import { unknownProtocol } from "../definition/input.ts"
import { RandomStream } from "./random-streams.ts"
import { type Scenario, ScenarioError, type ScheduledFault, serverIds } from "./scenario.ts"
import { Simulation, type SimulationStats } from "./simulation.ts"
import { SpanExport } from "./span-export.ts"

/** The outcome of one check. */
export interface CheckOutcome {
  readonly name: string
  readonly ok: boolean
  readonly violations: ReadonlyArray<Violation>
  /**
   * Whether the check may judge progress and so needs the liveness phase: a check its checker
   * declares in `livenessChecks`, or any check of a checker that does not say. Shrinking never
   * shortens the liveness phase of a run that fails such a check.
   */
  readonly needsLivenessPhase: boolean
}

/** Everything a run reports. */
export interface RunResult {
  readonly scenario: Scenario
  readonly seed: number
  readonly simulatedMs: number
  readonly wallMs: number
  readonly events: number
  readonly traceEvents: number
  readonly stats: SimulationStats
  /** The faults scheduled for the safety phase (the scenario's, then those drawn at random). */
  readonly faults: ReadonlyArray<ScheduledFault>
  /**
   * Fault lines in the trace, by kind: those of the safety phase (a scheduled fault that changes
   * nothing, such as restarting a node that is up, writes none) and those of the healing that
   * starts the liveness phase.
   */
  readonly faultLines: { readonly safety: Readonly<Record<string, number>>; readonly healing: Readonly<Record<string, number>> }
  readonly checks: ReadonlyArray<CheckOutcome>
  readonly ok: boolean
  readonly traceHash: string
  /** Every trace line, when asked for with `keepTrace`. */
  readonly traceLines: ReadonlyArray<string> | undefined
  /** The clients' history, for protocols with clients. */
  readonly history: ReadonlyArray<HistoryEvent> | undefined
  /** The run's exported spans, when asked for with `exportSpans`. */
  readonly spanExport: SpanExport | undefined
  /** Remarks of the checkers that are not violations. */
  readonly notes: ReadonlyArray<string>
  /** What the checkers measured (simulated time, observed events), in their order. */
  readonly metrics: ReadonlyArray<Metric>
}

/** How far a run has got, for progress displays. */
export interface RunProgress {
  readonly timeUs: number
  readonly endUs: number
  readonly events: number
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  readonly seed?: number | undefined
  readonly keepTrace?: boolean | undefined
  readonly protocols: ReadonlyMap<string, ProtocolDefinition>
  /** Called at least every simulated second (and 100 times a run), with how far the run has got. */
  readonly onProgress?: ((progress: RunProgress) => void) | undefined
  /** Record OpenTelemetry spans (`--otlp`); they change neither the run nor its trace hash. */
  readonly exportSpans?: boolean | undefined
  /** Where simulated time 0 falls in exported spans, as Unix milliseconds (default 0, the epoch). */
  readonly spanOriginUnixMs?: number | undefined
}

/** The check every run has: no node program died of a defect. */
const NODE_FAILED = "node-failed"

/** Runs `scenario` once. Throws a ScenarioError for bad input (unknown protocol, bad options). */
export const runScenario = (scenario: Scenario, options: RunOptions): RunResult => {
  const protocol = options.protocols.get(scenario.protocol)
  if (protocol === undefined) {
    throw new ScenarioError(`${scenario.file}: protocol: ${unknownProtocol(scenario.protocol, options.protocols.keys())}`)
  }
  const seed = options.seed ?? scenario.seed
  const started = performance.now()
  const spanExport = options.exportSpans === true
    ? new SpanExport({ cluster: scenario.name, protocol: scenario.protocol, seed }, options.spanOriginUnixMs)
    : undefined
  const simulation = new Simulation({
    seed,
    network: scenario.network,
    disk: scenario.disk,
    keepTrace: options.keepTrace ?? false,
    spanExport
  })
  const setup = buildProtocol(protocol, scenario)
  const checkers = setup.checkers
  const { judged, unjudged } = judgedChecks(scenario, checkers, selectChecks(scenario, checkers))
  judged.push(...boundChecks(scenario, checkers))
  simulation.writeLine(
    // The scenario's name is left out: renaming a scenario (as shrink does) must not change its trace.
    { t: 0, e: "run", protocol: scenario.protocol, seed, nodes: scenario.nodes }
  )
  const servers = serverIds(scenario.nodes)
  for (const id of servers) simulation.addNode(id, setup.server(id), "server")
  for (const client of setup.clients) simulation.addNode(client.id, client.program, "client")
  simulation.onProtocolEvent((event) => {
    for (const checker of checkers) checker.onEvent(event)
  })
  simulation.onFault((fault, timeUs) => {
    for (const checker of checkers) checker.onFault?.(fault, timeUs)
  })

  const planned = planRandomFaults(scenario.random, servers, scenario.durationMs, new RandomStream(seed, "nemesis"))
  const faults = [...scenario.scheduled, ...planned].sort((left, right) => left.atMs - right.atMs)
  for (const { atMs, fault } of faults) simulation.schedule(atMs * 1000, () => applyFault(simulation, fault))
  let safetyFaultLines: Record<string, number> | undefined
  simulation.schedule(scenario.durationMs * 1000, () => {
    safetyFaultLines = Object.fromEntries(simulation.faultsByKind)
    simulation.writeLine({ t: simulation.timeUs, e: "phase", phase: "liveness" })
    healEverything(simulation)
    for (const checker of checkers) checker.onLivenessStart?.(simulation.timeUs)
  })

  const endUs = (scenario.durationMs + scenario.livenessMs) * 1000
  // Slices only give progress displays a look in; the events run are the same whatever their size.
  const slices = Math.max(100, Math.ceil(endUs / 1_000_000))
  for (let slice = 1; slice <= slices; slice++) {
    simulation.runUntil(Math.round((endUs * slice) / slices))
    options.onProgress?.({ timeUs: simulation.timeUs, endUs, events: simulation.events })
  }
  const up = servers.filter((id) => simulation.status(id) !== "crashed")
  for (const checker of checkers) checker.finish({ timeUs: simulation.timeUs, up })

  const metrics = checkers.flatMap((checker) => checker.metrics?.() ?? [])
  const allViolations: Array<Violation> = [
    ...simulation.violations,
    ...checkers.flatMap((checker) => checker.violations),
    ...boundViolations(metrics, scenario.bounds, simulation.timeUs)
  ]
  const checks: Array<CheckOutcome> = [NODE_FAILED, ...judged].map((name) => {
    const violations = allViolations.filter((violation) => violation.check === name)
    return { name, ok: violations.length === 0, violations, needsLivenessPhase: needsLivenessPhase(name, checkers) }
  })
  for (const violation of allViolations) {
    if (violation.check === NODE_FAILED || !judged.includes(violation.check)) continue
    simulation.writeLine({ t: violation.timeUs, e: "violation", check: violation.check, message: violation.message })
  }
  const traceHash = simulation.trace.digest()
  const allFaultLines = Object.fromEntries(simulation.faultsByKind)
  const safety = safetyFaultLines ?? allFaultLines
  const healing: Record<string, number> = {}
  for (const [kind, count] of Object.entries(allFaultLines)) if (count > (safety[kind] ?? 0)) healing[kind] = count - (safety[kind] ?? 0)
  return {
    scenario,
    seed,
    simulatedMs: simulation.timeUs / 1000,
    wallMs: performance.now() - started,
    events: simulation.events,
    traceEvents: simulation.trace.count,
    stats: simulation.stats,
    faults,
    faultLines: { safety, healing },
    checks,
    ok: checks.every((check) => check.ok),
    traceHash,
    traceLines: simulation.trace.lines,
    history: setup.history?.(),
    spanExport,
    notes: [...unjudged, ...checkers.flatMap((checker) => checker.notes ?? [])],
    metrics
  }
}

/**
 * Calls the protocol's build. A ScenarioError (bad options) passes through; anything else thrown
 * by the protocol's own code, a user's protocol module say, becomes a ScenarioError that names
 * the protocol, the message and where it was thrown, so the command exits 2 with one line.
 */
export const buildProtocol = (protocol: ProtocolDefinition, scenario: Scenario): ProtocolBuild => {
  let built: ProtocolBuild
  try {
    built = protocol.build(scenario)
  } catch (error) {
    if (error instanceof ScenarioError) throw error
    const place = userStackPlace(error)
    const location = place === undefined ? undefined : formatPlace(place, { column: false })
    throw new ScenarioError(
      `${scenario.file}: protocol ${protocol.name}: build failed: ${errorMessage(error)}${location === undefined ? "" : ` (at ${location})`}`
    )
  }
  const problem = buildProblem(built)
  if (problem !== undefined) throw new ScenarioError(`${scenario.file}: protocol ${protocol.name}: ${problem}`)
  return built
}

/** Whether `check` may need the liveness phase: declared so, or its checker does not say. */
const needsLivenessPhase = (check: string, checkers: ReadonlyArray<Checker>): boolean => {
  if (check === NODE_FAILED) return false
  const owner = checkers.find((checker) => checker.checks.includes(check))
  return owner?.livenessChecks === undefined || owner.livenessChecks.includes(check)
}

/**
 * Splits the selected checks into those this run can judge and notes on those it cannot: a
 * liveness check needs a liveness phase at least as long as its checker's minimum, since on a
 * shorter one it would fail any protocol, correct or not.
 */
const judgedChecks = (
  scenario: Scenario,
  checkers: ReadonlyArray<Checker>,
  selected: ReadonlyArray<string>
): { judged: Array<string>; unjudged: Array<string> } => {
  const judged: Array<string> = []
  const unjudged: Array<string> = []
  for (const check of selected) {
    const owner = checkers.find((candidate) => candidate.checks.includes(check))
    const minimumMs = Math.max(1, owner?.minimumLivenessMs ?? 1)
    if (owner?.livenessChecks?.includes(check) === true && scenario.livenessMs < minimumMs) {
      unjudged.push(`${check} not judged: it needs a liveness phase of at least ${minimumMs} ms, and this run has ${scenario.livenessMs} ms`)
    } else {
      judged.push(check)
    }
  }
  return { judged, unjudged }
}

/**
 * The checks the scenario's metric bounds add, one per bounded metric; a bound on a metric no
 * checker measures is bad input. They judge the whole run, so shrinking keeps its liveness phase.
 */
const boundChecks = (scenario: Scenario, checkers: ReadonlyArray<Checker>): Array<string> => {
  const measured = checkers.flatMap((checker) => checker.metricNames ?? [])
  const bounded = Object.keys(scenario.bounds)
  for (const name of bounded) {
    if (measured.includes(name)) continue
    const known = measured.length === 0 ? `${scenario.protocol} measures none` : `${scenario.protocol} measures: ${measured.join(", ")}`
    throw new ScenarioError(`${scenario.file}: checks: cannot bound unknown metric "${name}" (${known})`)
  }
  return bounded
}

const selectChecks = (scenario: Scenario, checkers: ReadonlyArray<Checker>): Array<string> => {
  const available = checkers.flatMap((checker) => checker.checks)
  if (scenario.checks === undefined) return available
  scenario.checks.forEach((name, index) => {
    if (!available.includes(name)) {
      throw new ScenarioError(
        `${scenario.file}: checks[${index}]: unknown check "${name}" (${scenario.protocol} has: ${available.join(", ")})`
      )
    }
  })
  return [...scenario.checks]
}
