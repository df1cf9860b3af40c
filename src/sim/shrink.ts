// Shrinks a failing run to a minimal one: quietest network, default knobs, fewest faults, smallest workload, fewest nodes, shortest run, that still fail the same check.
import { planRandomFaults } from "./nemesis.ts"
import type { LatencyDistribution, NetworkModel } from "./network-model.ts"
import type { ProtocolDefinition, WorkloadShrink } from "../definition/protocol.ts"
import { RandomStream } from "./random-streams.ts"
import { type FaultShrinking, removeEarliest, removeKinds, removeSingles, removeUnits } from "./shrink-faults.ts"

/** A repro of at most this many faults is small enough that whole kinds and units are not tried. */
const FEW_FAULTS = 5
import { runScenario, type RunResult } from "./run.ts"
import { type Fault, type Scenario, ScenarioError, type ScheduledFault, serverIds } from "./scenario.ts"
import { failureSignature } from "./swarm.ts"

/** What shrinking did. */
export interface ShrinkResult {
  /** The check the original run violated first; the shrunk run violates it too. */
  readonly check: string
  readonly original: Scenario
  /** The run of `original`, which every kept step is compared with. */
  readonly originalResult: RunResult
  readonly shrunk: Scenario
  readonly shrunkResult: RunResult
  /** Runs made while shrinking. */
  readonly runs: number
}

/** Options of {@link shrinkFailure}. */
export interface ShrinkOptions {
  readonly protocols: ReadonlyMap<string, ProtocolDefinition>
  /** At most this many candidate runs (each one full simulation). */
  readonly maxRuns?: number
  /** Called after each kept step, with a short description. */
  readonly onStep?: (description: string, scenario: Scenario, runs: number) => void
  /**
   * The scenario's own options, before a swarm drew its knobs. Each knob the protocol declares is
   * tried back at its value here, or at the protocol's default (the option left out) when the
   * scenario does not set it. Without this, knobs are left as the scenario has them.
   */
  readonly knobDefaults?: Readonly<Record<string, unknown>> | undefined
  /** The scenario's own workload, before a swarm drew its shape: each drawn field is tried back at it. */
  readonly workloadDefaults?: Readonly<Record<string, unknown>> | undefined
  /**
   * The scenario's own latency, before a swarm drew a slow network in its place: tried as a step
   * of its own before a constant latency. Without this, the latency only becomes constant.
   */
  readonly ownLatency?: LatencyDistribution | undefined
}

/** The size of a run, as the shrink summary reports it. */
export interface ReproSize {
  readonly faults: number
  /** Clients that invoked an operation, and the operations invoked; undefined for a protocol without clients. */
  readonly clients: number | undefined
  readonly operations: number | undefined
  readonly simulatedMs: number
}

/** How big a run is: its scheduled faults, the clients and operations of its history, and its simulated time. */
export const reproSize = (result: RunResult): ReproSize => {
  const invokes = result.history?.filter((event) => event.type === "invoke")
  return {
    faults: result.faults.length,
    clients: invokes === undefined ? undefined : new Set(invokes.map((event) => event.process)).size,
    operations: invokes?.length,
    simulatedMs: result.simulatedMs
  }
}

/** The latency a distribution typically gives, as the constant one a shrunk network tries. */
const typicalMs = (latency: LatencyDistribution): number => {
  switch (latency._tag) {
    case "Constant":
      return latency.ms
    case "Uniform":
      return (latency.minMs + latency.maxMs) / 2
    case "Exponential":
      return latency.meanMs
    case "LongTail":
      return latency.medianMs
    default: {
      const unreachable: never = latency
      throw new Error(`unknown latency ${JSON.stringify(unreachable)}`)
    }
  }
}

/** One simplification of a run's conditions; applied to the run as it is when tried. */
interface Simplification<A> {
  readonly description: string
  readonly change: (value: A) => A
}

/** All of `steps` at once (when there are several), then each alone. */
const allThenEach = <A>(steps: ReadonlyArray<Simplification<A>>, all: string): Array<Simplification<A>> =>
  steps.length > 1
    ? [{ description: all, change: (value) => steps.reduce((changed, step) => step.change(changed), value) }, ...steps]
    : [...steps]

/**
 * Simpler networks to try: everything quiet at once (no loss, duplication, reordering or long
 * delays, the scenario's own latency made constant, no per-link overrides), then one of those at a
 * time.
 */
const simplerNetworks = (network: NetworkModel, ownLatency: LatencyDistribution | undefined): Array<Simplification<NetworkModel>> => {
  const defaults = network.defaults
  const steps: Array<Simplification<NetworkModel>> = []
  const withDefaults = (change: Partial<NetworkModel["defaults"]>) => (model: NetworkModel) => ({ ...model, defaults: { ...model.defaults, ...change } })
  for (const field of ["lossRate", "duplicateRate", "reorderRate", "longDelayRate"] as const) {
    if ((defaults[field] ?? 0) > 0) steps.push({ description: `no ${field}`, change: withDefaults({ [field]: 0 }) })
  }
  if (ownLatency !== undefined && JSON.stringify(ownLatency) !== JSON.stringify(defaults.latency)) {
    steps.push({ description: "the scenario's own latency", change: withDefaults({ latency: ownLatency }) })
  }
  // Typical of the latency the step is applied to, so that after the scenario's own latency it
  // makes that one constant, not the slow network's.
  const constant = (model: NetworkModel): NetworkModel => ({ ...model, defaults: { ...model.defaults, latency: { _tag: "Constant", ms: typicalMs(model.defaults.latency) } } })
  if (defaults.latency._tag !== "Constant") steps.push({ description: `constant latency ${typicalMs(defaults.latency)} ms`, change: constant })
  if (network.links.length > 0) steps.push({ description: "no link overrides", change: (model) => ({ ...model, links: [] }) })
  return allThenEach(steps, "a quiet network")
}

/** The drawn knobs back at their defaults: all at once, then one at a time. */
const simplerKnobs = (
  options: Readonly<Record<string, unknown>>,
  knobs: ReadonlyArray<string>,
  defaults: Readonly<Record<string, unknown>>
): Array<Simplification<Readonly<Record<string, unknown>>>> => {
  const drawn = knobs.filter((name) => name in options && options[name] !== defaults[name])
  const steps = drawn.map((name) => ({
    description: `${name} back to ${name in defaults ? String(defaults[name]) : "its default"}`,
    change: (value: Readonly<Record<string, unknown>>) => {
      const result: Record<string, unknown> = { ...value }
      if (name in defaults) result[name] = defaults[name]
      else delete result[name]
      return result
    }
  }))
  return allThenEach(steps, "every knob back to its default")
}

type Workload = Readonly<Record<string, unknown>>

/** A workload with `field` set to `value`. */
const setField = (field: string, value: unknown) => (workload: Workload): Workload => ({ ...workload, [field]: value })

/**
 * Smaller workloads to try, each built from the workload as it is when tried: each client's
 * operations cut to the most any client invoked (the rest were never asked for), then the
 * clients that invoked something left out two neighbours at a time, then one at a time. The clients left keep their numbers,
 * so each still draws what it drew in the failing run.
 */
const smallerWorkloads = (result: RunResult, sizes: WorkloadShrink): Array<Simplification<Workload>> => {
  const steps: Array<Simplification<Workload>> = []
  const invokes = (result.history ?? []).filter((event) => event.type === "invoke")
  const perClient = new Map<number, number>()
  for (const event of invokes) perClient.set(event.process, (perClient.get(event.process) ?? 0) + 1)
  const operationsField = sizes.operationsPerClient
  if (operationsField !== undefined && result.history !== undefined) {
    const most = Math.max(0, ...perClient.values())
    steps.push({ description: `workload.${operationsField} ${most} (the most any client invoked)`, change: setField(operationsField, most) })
  }
  const omitField = sizes.omitClients
  if (omitField === undefined) return steps
  const omitted = (current: Workload): Array<number> => [...((current[omitField] as ReadonlyArray<number> | undefined) ?? [])]
  const leaveOut = (clients: ReadonlyArray<number>, description: string): Simplification<Workload> => ({
    description,
    change: (current) => setField(omitField, [...new Set([...omitted(current), ...clients])].sort((left, right) => left - right))(current)
  })
  // The clients that invoked something; one that invoked nothing goes with the counts above.
  const active = [...perClient.keys()].sort((left, right) => left - right)
  for (let index = 0; index + 1 < active.length; index++) {
    const pair = [active[index]!, active[index + 1]!]
    steps.push(leaveOut(pair, `clients ${pair.join(" and ")} left out`))
  }
  if (active.length > 1) for (const client of active) steps.push(leaveOut([client], `client ${client} left out`))
  return steps
}

const ZERO_RATES = (scenario: Scenario): Scenario["random"] => ({
  partitions: { ...scenario.random.partitions, ratePerSecond: 0 },
  crashes: { ...scenario.random.crashes, ratePerSecond: 0 },
  pauses: { ...scenario.random.pauses, ratePerSecond: 0 },
  clogs: { ...scenario.random.clogs, ratePerSecond: 0 },
  stalls: { ...scenario.random.stalls, ratePerSecond: 0 },
  bounces: { ...scenario.random.bounces, ratePerSecond: 0 },
  clockSteps: { ...scenario.random.clockSteps, ratePerSecond: 0 },
  clockDrifts: { ...scenario.random.clockDrifts, ratePerSecond: 0 },
  maxDown: scenario.random.maxDown
})

/**
 * The same run with every random fault written out as a scheduled one, so faults can be removed
 * one by one. It replays the original exactly: the nemesis stream is separate from every other.
 */
export const fixFaults = (scenario: Scenario, seed: number): Scenario => {
  const planned = planRandomFaults(scenario.random, serverIds(scenario.nodes), scenario.durationMs, new RandomStream(seed, "nemesis"))
  const scheduled = [...scenario.scheduled, ...planned].sort((left, right) => left.atMs - right.atMs)
  return { ...scenario, seed, scheduled, random: ZERO_RATES(scenario) }
}

const firstViolation = (result: RunResult): { check: string; timeUs: number } | undefined => {
  let first: { check: string; timeUs: number } | undefined
  for (const check of result.checks) {
    for (const violation of check.violations) {
      if (first === undefined || violation.timeUs < first.timeUs) first = { check: check.name, timeUs: violation.timeUs }
    }
  }
  return first
}

/**
 * The reason a violation gives: its message up to node names and numbers (see failureSignature).
 * A key that cannot be linearized is one reason whichever operations the checker names as its
 * witness: the witness is the first small subset its search happens on, and it changes with timing
 * (one stale read shows as "write, write, read" in one run and as "write, read, write, read" with
 * an unacknowledged write in another), while the broken rule, that key's reads and writes taking
 * effect out of real-time order, does not.
 */
export const reasonOf = (check: string, message: string): string => {
  const notLinearizable = /^(key \S+:) .* cannot be linearized\./.exec(message)
  return failureSignature(check, notLinearizable === null ? message : `${notLinearizable[1]} cannot be linearized`)
}

/**
 * Whether `candidate` fails the way `original` failed `check`: it violates `check` for a reason
 * the original gave (a violation with the same signature: the same message up to node names and
 * numbers), and every other check it violates was violated in the original too. This is what
 * keeps shrinking honest: a step that makes the run fail in a new way, say a liveness check
 * starved of time, is not kept, so the repro never fails for a reason the original did not have.
 */
export const failsTheSameWay = (original: RunResult, check: string, candidate: RunResult): boolean => {
  const reasons = new Set(original.checks.find((outcome) => outcome.name === check)?.violations.map((violation) => reasonOf(check, violation.message)))
  const outcome = candidate.checks.find((entry) => entry.name === check)
  if (outcome === undefined || outcome.ok) return false
  if (!outcome.violations.some((violation) => reasons.has(reasonOf(check, violation.message)))) return false
  const violatedBefore = new Set(original.checks.filter((entry) => !entry.ok).map((entry) => entry.name))
  return candidate.checks.every((entry) => entry.ok || violatedBefore.has(entry.name))
}

/** A fault restricted to the first `nodes` servers; undefined when nothing of it is left. */
const restrictFault = (fault: Fault, keep: ReadonlySet<string>): Fault | undefined => {
  const has = (node: string) => keep.has(node)
  switch (fault._tag) {
    case "Partition": {
      const groups = fault.groups.map((group) => group.filter(has)).filter((group) => group.length > 0)
      return groups.length < 2 ? undefined : { ...fault, groups }
    }
    case "PartitionOneWay": {
      const from = fault.from.filter(has)
      const to = fault.to.filter(has)
      return from.length === 0 || to.length === 0 ? undefined : { ...fault, from, to }
    }
    case "Heal":
      return fault
    case "Clog":
    case "Unclog":
      return has(fault.from) && has(fault.to) ? fault : undefined
    default:
      return has(fault.node) ? fault : undefined
  }
}

/**
 * The run stopped at `stopMs`: within the safety phase, with the faults from then on and the
 * liveness phase left out; within the liveness phase, with that phase cut short there.
 */
const stoppedAt = (scenario: Scenario, stopMs: number): Scenario =>
  stopMs <= scenario.durationMs
    ? { ...scenario, scheduled: scenario.scheduled.filter((entry) => entry.atMs < stopMs), durationMs: Math.max(1, stopMs), livenessMs: 0 }
    : { ...scenario, livenessMs: stopMs - scenario.durationMs }

const withNodes = (scenario: Scenario, nodes: number): Scenario => {
  const keep = new Set(serverIds(nodes))
  const scheduled: Array<ScheduledFault> = []
  for (const entry of scenario.scheduled) {
    const fault = restrictFault(entry.fault, keep)
    if (fault !== undefined) scheduled.push({ atMs: entry.atMs, fault })
  }
  const links = scenario.network.links.filter((link) => keep.has(link.from) && keep.has(link.to))
  return { ...scenario, nodes, scheduled, network: { ...scenario.network, links } }
}

/**
 * Shrinks the failing run of `scenario` with `seed`. Throws a ScenarioError if that run does not
 * fail. Every candidate is a full deterministic run; a candidate is kept when it still violates
 * the original's first violated check.
 */
export const shrinkFailure = (scenario: Scenario, seed: number, options: ShrinkOptions): ShrinkResult => {
  const maxRuns = options.maxRuns ?? 400
  const original = fixFaults(scenario, seed)
  let runs = 1
  const first = runScenario(original, { seed, protocols: options.protocols })
  const violation = firstViolation(first)
  if (violation === undefined) throw new ScenarioError(`${scenario.file}: seed ${seed} does not fail, so there is nothing to shrink`)
  const check = violation.check
  // A safety failure is judged on what happened before it, so the run may stop there and the
  // liveness phase may go; a check that judges progress keeps the whole liveness phase it had.
  const safety = first.checks.find((outcome) => outcome.name === check)?.needsLivenessPhase === false
  let current = original
  let currentResult = first

  /** Runs a candidate; keeps it if it still fails the same check. */
  const attempt = (candidate: Scenario, description: string): boolean => {
    if (runs >= maxRuns) return false
    runs++
    let result: RunResult
    try {
      result = runScenario(candidate, { seed, protocols: options.protocols })
    } catch (error) {
      // A candidate the protocol rejects (say, a workload of zero clients) is simply not kept.
      if (error instanceof ScenarioError) return false
      throw error
    }
    if (!failsTheSameWay(first, check, result)) return false
    current = candidate
    currentResult = result
    options.onStep?.(description, candidate, runs)
    return true
  }

  /**
   * Lowers a count of the workload past where halving stopped: by a quarter, an eighth and so on
   * down to two (a pair) and one, trying each step again while it is kept. Lowering one at a time
   * from the start would spend a run per unit of a count in the thousands.
   */
  const settled = new Map<string, Scenario>()
  const lowerCount = (field: string): boolean => {
    let lowered = false
    const start = current.workload[field]
    // Nothing changed since this count last could go no lower: trying again would repeat those runs.
    if (typeof start !== "number" || settled.get(field) === current) return false
    let by = Math.max(1, Math.floor(start / 4))
    while (by >= 1 && runs < maxRuns) {
      const value = current.workload[field] as number
      if (value - by >= 0 && attempt({ ...current, workload: { ...current.workload, [field]: value - by } }, `workload.${field} ${value - by}`)) {
        lowered = true
      } else {
        by = by === 3 ? 2 : Math.floor(by / 2)
      }
    }
    if (runs < maxRuns) settled.set(field, current)
    return lowered
  }

  /**
   * Stops the run just past where it now first fails the check: nothing after that moment can
   * matter to a rule that was already broken, and without a liveness phase the run does not judge
   * liveness checks at all (see runScenario). A check that reports its violation only when the run
   * ends (linearizability, judged on the whole history) is stopped at the earliest moment found by
   * bisection, if `bisect`: a stopped run is the same run up to where it stops, so once it fails
   * the same way, stopping any later fails too.
   */
  let bisected: Scenario | undefined
  const stopAtFailure = (bisect: boolean): void => {
    if (!safety) return
    const endMs = current.durationMs + current.livenessMs
    const failedUs = Math.min(...(currentResult.checks.find((outcome) => outcome.name === check)?.violations.map((entry) => entry.timeUs) ?? []))
    const failedAtMs = Math.floor(failedUs / 1000) + 1
    if (failedAtMs < endMs) {
      attempt(stoppedAt(current, failedAtMs), `stop at ${failedAtMs} ms`)
      return
    }
    if (!bisect || bisected === current) return
    let passes = 0
    let fails = endMs
    while (fails - passes > Math.max(1, Math.floor(fails / 100)) && runs < maxRuns) {
      const middle = Math.floor((passes + fails) / 2)
      if (attempt(stoppedAt(current, middle), `stop at ${middle} ms`)) fails = middle
      else passes = middle
    }
    bisected = current
  }
  stopAtFailure(true)

  const knobNames = (options.protocols.get(scenario.protocol)?.knobs ?? []).map((knob) => knob.name)
  const shapeNames = (options.protocols.get(scenario.protocol)?.workloadKnobs ?? []).map((knob) => knob.name)
  let improved = true
  while (improved && runs < maxRuns) {
    improved = false
    // The conditions first, so that faults which only mattered under them go next: a quieter
    // network, then the knobs back at their defaults. Each candidate is built from the current
    // run, so a step kept earlier is not undone by a later one, and a step that changes nothing
    // (one loss rate, after the whole network went quiet) is skipped.
    for (const step of simplerNetworks(current.network, options.ownLatency)) {
      const network = step.change(current.network)
      if (JSON.stringify(network) !== JSON.stringify(current.network) && attempt({ ...current, network }, step.description)) improved = true
    }
    for (const step of options.knobDefaults === undefined ? [] : simplerKnobs(current.options, knobNames, options.knobDefaults)) {
      const changed = step.change(current.options)
      if (JSON.stringify(changed) !== JSON.stringify(current.options) && attempt({ ...current, options: changed }, step.description)) improved = true
    }
    for (const step of options.workloadDefaults === undefined ? [] : simplerKnobs(current.workload, shapeNames, options.workloadDefaults)) {
      const changed = step.change(current.workload)
      const description = `workload ${step.description.replace("every knob", "its shape")}`
      if (JSON.stringify(changed) !== JSON.stringify(current.workload) && attempt({ ...current, workload: changed }, description)) improved = true
    }
    // Faults: whole kinds first, then delta debugging over crash-and-restart pairs and the like.
    // Each removal can move the failure earlier, so the run is stopped there again after it.
    const faults: FaultShrinking = {
      current: () => current.scheduled,
      runsLeft: () => runs < maxRuns,
      attempt: (scheduled, description) => attempt({ ...current, scheduled }, description) && (stopAtFailure(false), true)
    }
    // A whole kind goes in a run of the original length: with the run stopped where hundreds of
    // bounces brought the failure about, the few faults left may need longer to bring it about
    // again (a leader cut off by a partition serves stale reads for as long as it stays cut off).
    const lengthened: FaultShrinking = {
      ...faults,
      attempt: (scheduled, description) =>
        attempt({ ...current, scheduled, durationMs: Math.max(current.durationMs, original.durationMs) }, description) && (stopAtFailure(true), true)
    }
    // Single faults by delta debugging first, as shrink always did, with at most half the runs
    // left: of the planted bugs it leaves most at a handful (a restart removed without its crash
    // leaves one crash that matters). Kinds and units come after, for what is still large: a storm
    // of hundreds of bounces that only a slower path to the same failure can replace. Taking kinds
    // first cut one bug's 2,200 faults to 324 where single faults first reach 5; single faults
    // alone left another's stale read at 313. The next pass gives single faults the runs left.
    const singlesUntil = runs + Math.ceil((maxRuns - runs) / 2)
    if (removeSingles({ ...faults, runsLeft: () => runs < singlesUntil })) improved = true
    if (current.scheduled.length > FEW_FAULTS) {
      if (removeKinds(lengthened)) improved = true
      // Then the earliest faults by bisection, in a run of the original length too, so that the
      // failure may come later on the faults left: a contested term that hundreds of bounces
      // brought about may come again from the last few dozen. After whole kinds, so that a slow
      // path of one fault (a partition) is not cut away for a fast one of a hundred bounces.
      if (removeEarliest(lengthened)) improved = true
      if (removeUnits(faults)) improved = true
    }
    stopAtFailure(true)
    // Workload: halve every numeric setting while the failure stays, then (for the fields the
    // protocol names as sizes) lower counts in pairs and singly, and leave clients out.
    for (const key of Object.keys(current.workload).sort()) {
      while (runs < maxRuns) {
        const value = current.workload[key]
        if (typeof value !== "number" || value <= 1) break
        const smaller = value > 4 ? Math.floor(value / 2) : value - 1
        if (!attempt({ ...current, workload: { ...current.workload, [key]: smaller } }, `workload.${key} ${smaller}`)) break
        improved = true
      }
    }
    const sizes = options.protocols.get(current.protocol)?.workloadShrink
    if (sizes !== undefined) {
      for (const step of smallerWorkloads(currentResult, sizes)) {
        if (runs >= maxRuns) break
        const workload = step.change(current.workload)
        if (JSON.stringify(workload) !== JSON.stringify(current.workload) && attempt({ ...current, workload }, step.description)) improved = true
      }
      for (const field of sizes.counts) if (lowerCount(field)) improved = true
    }
    // Nodes: fewer servers, with faults on the removed ones dropped.
    while (current.nodes > 1 && runs < maxRuns && attempt(withNodes(current, current.nodes - 1), `${current.nodes - 1} nodes`)) {
      improved = true
    }
    // Time: a shorter fault phase (just past the last fault), then a shorter liveness phase.
    const lastFaultMs = current.scheduled.at(-1)?.atMs ?? 0
    for (const durationMs of [lastFaultMs + 1, Math.floor(current.durationMs / 2)]) {
      if (durationMs < current.durationMs && durationMs > lastFaultMs && attempt({ ...current, durationMs }, `duration ${durationMs} ms`)) {
        improved = true
      }
    }
    if (safety && current.livenessMs > 0) {
      for (const livenessMs of [0, Math.floor(current.livenessMs / 2)]) {
        if (livenessMs < current.livenessMs && attempt({ ...current, livenessMs }, `liveness ${livenessMs} ms`)) improved = true
      }
    }
  }
  return { check, original, originalResult: first, shrunk: current, shrunkResult: currentResult, runs }
}
