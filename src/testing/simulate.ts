// Runs a user's node programs in the simulator from a test: one seed, one fault schedule, the checks, the trace.
import type { Checker, ProtocolEvent, Violation } from "../check/checker.ts"
import type { HistoryEvent } from "../check/history.ts"
import type { NodeId, NodeProgram } from "../env/index.ts"
import type { LatencyDistribution, LinkOverride, NetworkModel } from "../sim/network-model.ts"
import type { ProtocolDefinition } from "../definition/protocol.ts"
import { type CheckOutcome, runScenario } from "../sim/run.ts"
import { type Fault, type Scenario, ScenarioError, type ScheduledFault, scenarioFromObject, serverIds } from "../sim/scenario.ts"
import type { DiskModel, SimulationStats } from "../sim/simulation.ts"

/** A network given by the fields that differ from a perfect one (1 ms constant latency, no faults). */
export interface NetworkOptions {
  /** 1 ms constant by default. */
  readonly latency?: LatencyDistribution
  readonly lossRate?: number
  readonly duplicateRate?: number
  readonly reorderRate?: number
  /** 10 ms by default. */
  readonly reorderWindowMs?: number
  /** Per-link overrides; a field left out keeps the value above. */
  readonly links?: ReadonlyArray<LinkOverride>
}

/** A client node: a program that drives a workload; faults never name it. */
export interface ClientNode {
  readonly id: NodeId
  readonly program: NodeProgram
}

/** Options of {@link simulate}. */
export interface SimulateOptions {
  /** Everything random in the run (latencies, losses, each node's `Random`) is drawn from it. */
  readonly seed: number
  /** How many servers; they are named `n1`, `n2`, …, as fault schedules and scenario files name them. */
  readonly nodes: number
  /** The program of server `id`. It runs again from the start after each restart. */
  readonly node: (id: NodeId) => NodeProgram
  /** Client nodes, which are not in `Network.nodes` and are never crashed or partitioned. */
  readonly clients?: ReadonlyArray<ClientNode>
  /** The safety phase: faults happen within it. */
  readonly durationMs: number
  /** Then every fault is healed for this long, and the protocol must make progress; 0 by default. */
  readonly livenessMs?: number
  /** A full {@link NetworkModel}, or only the fields that differ from a perfect network. */
  readonly network?: NetworkModel | NetworkOptions
  /** Sync latency and injected write errors; instant and error-free by default. */
  readonly disk?: Partial<DiskModel>
  /** Faults at given times (from {@link faultScheduleArbitrary}, or written by hand). */
  readonly faults?: ReadonlyArray<ScheduledFault>
  /**
   * The checkers that read the nodes' `Tracing` events. Checkers keep state, so a function that
   * makes fresh ones is needed whenever the same options run more than once (a property does).
   */
  readonly checkers?: ReadonlyArray<Checker> | (() => ReadonlyArray<Checker>)
  /** Builds a Jepsen-style history from the run's events (for clients that trace their calls). */
  readonly history?: (events: ReadonlyArray<ProtocolEvent>) => ReadonlyArray<HistoryEvent>
  /** Keep every trace line in `trace`; off by default (the hash is always computed). */
  readonly keepTrace?: boolean
  /** The protocol's name in the trace; `user-protocol` by default. */
  readonly name?: string
}

/** What {@link simulate} reports. */
export interface SimulationResult {
  /** Every check held: no node died of a defect, and no checker reported a violation. */
  readonly ok: boolean
  readonly seed: number
  /** One outcome per check: `node-failed` first, then every check the checkers name. */
  readonly checks: ReadonlyArray<CheckOutcome>
  /** Every violation of every check, in check order. */
  readonly violations: ReadonlyArray<Violation>
  /** Every trace line (JSON Lines), when `keepTrace` was set. */
  readonly trace: ReadonlyArray<string> | undefined
  /** SHA-256 of the trace: the same seed and options always give the same hash. */
  readonly traceHash: string
  /** Every `Tracing.event` the nodes emitted, in order. */
  readonly events: ReadonlyArray<ProtocolEvent>
  /** The history built by the `history` option, if one was given. */
  readonly history: ReadonlyArray<HistoryEvent> | undefined
  /** The faults applied, sorted by time. */
  readonly faults: ReadonlyArray<ScheduledFault>
  readonly stats: SimulationStats
  readonly simulatedMs: number
  readonly wallMs: number
  /** Remarks of the checkers that are not violations. */
  readonly notes: ReadonlyArray<string>
}

/** Where messages about bad options point. */
const SOURCE = "simulate()"

/**
 * Checkers that have already run. A checker carries what it saw, so running one twice would mix
 * two runs' events; this catches the mistake instead of reporting nonsense.
 */
const usedCheckers = new WeakSet<Checker>()

/**
 * Runs the servers (and clients) in the simulator, synchronously, through the same harness as
 * `faultline run`: the safety phase with `faults`, then the liveness phase on a healed cluster.
 * Throws a {@link ScenarioError} naming the bad option when the options are invalid; a violated
 * check is not an exception but `ok: false` in the result.
 */
export const simulate = (options: SimulateOptions): SimulationResult => {
  const livenessMs = options.livenessMs ?? 0
  const name = options.name ?? "user-protocol"
  // The scenario validator checks the counts and durations, with the messages scenario files get.
  const base = scenarioFromObject(
    { protocol: name, nodes: options.nodes, seed: options.seed, duration: options.durationMs, liveness: livenessMs },
    SOURCE
  )
  const servers = serverIds(base.nodes)
  const clients = options.clients ?? []
  checkClients(clients, servers)
  const scenario: Scenario = {
    ...base,
    network: resolveNetwork(options.network, servers),
    disk: { syncLatency: options.disk?.syncLatency, writeErrorRate: options.disk?.writeErrorRate ?? 0 },
    scheduled: (options.faults ?? []).map((entry, index) => checkFault(entry, `faults[${index}]`, servers))
  }
  if (!(scenario.disk.writeErrorRate >= 0 && scenario.disk.writeErrorRate <= 1)) {
    throw new ScenarioError(`${SOURCE}: disk.writeErrorRate: expected a probability in [0, 1], got ${scenario.disk.writeErrorRate}`)
  }
  if (scenario.disk.syncLatency !== undefined) checkLatency(scenario.disk.syncLatency, "disk.syncLatency")
  const events: Array<ProtocolEvent> = []
  const protocol: ProtocolDefinition = {
    name,
    description: "a protocol given to simulate()",
    build: () => {
      // A checker that judges nothing and keeps every event, for the result's `events`; last, so that
      // a message about the user's checkers[i] names their i.
      const recorder: Checker = { checks: [], livenessChecks: [], violations: [], onEvent: (event) => events.push(event), finish: () => {} }
      return { server: options.node, clients, checkers: [...freshCheckers(options.checkers), recorder] }
    }
  }
  const result = runScenario(scenario, {
    protocols: new Map([[name, protocol]]),
    keepTrace: options.keepTrace ?? false
  })
  return {
    ok: result.ok,
    seed: result.seed,
    checks: result.checks,
    violations: result.checks.flatMap((check) => check.violations),
    trace: result.traceLines,
    traceHash: result.traceHash,
    events,
    history: options.history?.(events),
    faults: result.faults,
    stats: result.stats,
    simulatedMs: result.simulatedMs,
    wallMs: result.wallMs,
    notes: result.notes
  }
}

const freshCheckers = (given: SimulateOptions["checkers"]): ReadonlyArray<Checker> => {
  const checkers = typeof given === "function" ? given() : given ?? []
  for (const checker of checkers) {
    if (usedCheckers.has(checker)) {
      throw new Error(
        "simulate: a checker instance was given to an earlier run; pass `checkers: () => [new MyChecker()]` " +
          "so that each run gets fresh ones"
      )
    }
    usedCheckers.add(checker)
  }
  return checkers
}

const checkClients = (clients: ReadonlyArray<ClientNode>, servers: ReadonlyArray<NodeId>): void => {
  const seen = new Set<NodeId>(servers)
  clients.forEach((client, index) => {
    if (seen.has(client.id)) {
      throw new ScenarioError(`${SOURCE}: clients[${index}].id: ${client.id} is already a server or another client`)
    }
    seen.add(client.id)
  })
}

const isNetworkModel = (network: NetworkModel | NetworkOptions): network is NetworkModel => "defaults" in network

const resolveNetwork = (network: NetworkModel | NetworkOptions | undefined, servers: ReadonlyArray<NodeId>): NetworkModel => {
  const given = network ?? {}
  const model: NetworkModel = isNetworkModel(given)
    ? given
    : {
        defaults: {
          latency: given.latency ?? { _tag: "Constant", ms: 1 },
          lossRate: given.lossRate ?? 0,
          duplicateRate: given.duplicateRate ?? 0,
          reorderRate: given.reorderRate ?? 0,
          reorderWindowMs: given.reorderWindowMs ?? 10
        },
        links: given.links ?? []
      }
  checkLink(model.defaults, "network")
  model.links.forEach((link, index) => {
    const path = `network.links[${index}]`
    for (const end of ["from", "to"] as const) {
      if (!servers.includes(link[end])) throw new ScenarioError(`${SOURCE}: ${path}.${end}: unknown node ${link[end]}`)
    }
    checkLink(link, path)
  })
  return model
}

const checkLink = (link: Partial<NetworkOptions>, path: string): void => {
  for (const field of ["lossRate", "duplicateRate", "reorderRate"] as const) {
    const value = link[field]
    if (value !== undefined && !(value >= 0 && value <= 1)) {
      throw new ScenarioError(`${SOURCE}: ${path}.${field}: expected a probability in [0, 1], got ${value}`)
    }
  }
  if (link.reorderWindowMs !== undefined && !(link.reorderWindowMs >= 0)) {
    throw new ScenarioError(`${SOURCE}: ${path}.reorderWindowMs: expected a duration of at least 0, got ${link.reorderWindowMs}`)
  }
  if (link.latency !== undefined) checkLatency(link.latency, `${path}.latency`)
}

const checkLatency = (latency: LatencyDistribution, path: string): void => {
  const fail = (detail: string) => new ScenarioError(`${SOURCE}: ${path}: ${detail}`)
  const values = Object.entries(latency).filter(([key]) => key !== "_tag")
  for (const [key, value] of values) {
    if (!(typeof value === "number" && value >= 0 && Number.isFinite(value))) throw fail(`${key}: expected a number of at least 0`)
  }
  switch (latency._tag) {
    case "Constant":
      return
    case "Uniform":
      if (latency.maxMs < latency.minMs) throw fail("maxMs: must not be below minMs")
      return
    case "Exponential":
      if (latency.meanMs < latency.minMs) throw fail("meanMs: must not be below minMs")
      return
    case "LongTail":
      if (latency.medianMs <= 0 || latency.p99Ms < latency.medianMs) {
        throw fail("p99Ms: must be at least medianMs, and medianMs above zero")
      }
      return
    default: {
      const unreachable: never = latency
      throw fail(`unknown latency ${JSON.stringify(unreachable)}`)
    }
  }
}

/** Checks that a fault names only servers of this run, so a typo fails here and not mid-run. */
const checkFault = (entry: ScheduledFault, path: string, servers: ReadonlyArray<NodeId>): ScheduledFault => {
  if (!(Number.isFinite(entry.atMs) && entry.atMs >= 0)) {
    throw new ScenarioError(`${SOURCE}: ${path}.atMs: expected a time of at least 0, got ${entry.atMs}`)
  }
  if (entry.fault._tag === "ClockDrift" && !(entry.fault.rate > -1)) {
    throw new ScenarioError(`${SOURCE}: ${path}.fault.rate: a clock drift must be greater than -1, got ${entry.fault.rate}`)
  }
  for (const node of faultNodes(entry.fault)) {
    if (!servers.includes(node)) {
      throw new ScenarioError(`${SOURCE}: ${path}.fault: unknown node ${node} (this run has ${servers.join(", ")})`)
    }
  }
  return entry
}

const faultNodes = (fault: Fault): ReadonlyArray<NodeId> => {
  switch (fault._tag) {
    case "Partition":
      return fault.groups.flat()
    case "PartitionOneWay":
    case "Clog":
    case "Unclog":
      return [fault.from, fault.to].flat()
    case "Heal":
      return []
    case "Crash":
    case "Restart":
    case "Pause":
    case "Resume":
    case "ClockOffset":
    case "ClockStep":
    case "ClockDrift":
      return [fault.node]
    default: {
      const unreachable: never = fault
      throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
    }
  }
}
