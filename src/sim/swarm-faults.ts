// Swarm mode (TigerBeetle's VOPR style): each seed draws its own fault mix, network and knobs from itself, within the scenario's bounds.
import type { KnobValues, ProtocolDefinition } from "../definition/protocol.ts"
import type { LinkModel, NetworkModel } from "./network-model.ts"
import { RandomStream } from "./random-streams.ts"
import type { RandomFaults, Scenario } from "./scenario.ts"
import { describeKnobs, drawKnobs } from "./swarm-knobs.ts"

/** What a seed drew, printed with every failure so a person can see what kind of run it was. */
export interface SwarmDraw {
  /** Whether the seed is one of the harsh ones (see drawHarsh). */
  readonly harsh: boolean
  readonly kinds: ReadonlyArray<string>
  readonly lossRate: number
  readonly duplicateRate: number
  readonly reorderRate: number
  /** Per-message probability of a long delay (0 when this seed drew none), and its range. */
  readonly longDelayRate: number
  readonly longDelayMs: readonly [number, number]
  /** A slow network's longest latency (its latency is uniform from 1 ms to this), or 0 when this seed kept the scenario's. */
  readonly slowLatencyMsMax: number
  readonly random: RandomFaults
  /** The protocol's knobs as drawn (see ProtocolDefinition.knobs). */
  readonly knobs: KnobValues
  /** The workload's shape as drawn (see ProtocolDefinition.workloadKnobs). */
  readonly workload: KnobValues
}

const KINDS = ["partitions", "crashes", "pauses", "clogs", "clockSteps", "clockDrifts"] as const

/**
 * Returns the scenario as this seed runs it in swarm mode. Every fault kind is on or off by a coin
 * flip (at least one is on), and its rate is drawn up to twice the scenario's own (or a default when
 * the scenario leaves it off); loss, duplication and reordering are drawn up to 30%, 20% and 30%.
 * Some seeds thus get all partitions, some all crashes, some a quiet network and a storm of pauses.
 * Timing faults (stalled links, long delays), slow networks, the protocol's knobs and the workload's
 * shape come from streams of their own, so adding them left the fault mix each seed drew unchanged.
 * One seed in three is harsh (see drawHarsh): it always draws bounces and a slow network, and its
 * knobs and workload from their `stress` values. Scheduled faults stay as written. The draw is the
 * same whenever the seed runs.
 */
export const swarmScenario = (
  scenario: Scenario,
  seed: number,
  protocols: ReadonlyMap<string, ProtocolDefinition>
): { scenario: Scenario; draw: SwarmDraw } => {
  const stream = new RandomStream(seed, "swarm")
  const base = scenario.random
  let enabled = KINDS.filter(() => stream.chance(0.5))
  if (enabled.length === 0) enabled = [stream.pick(KINDS)]
  const rate = (own: number, fallback: number) => stream.uniform(0, 2 * (own > 0 ? own : fallback))
  const on = (kind: (typeof KINDS)[number]) => enabled.includes(kind)
  const partial = {
    partitions: { ...base.partitions, ratePerSecond: on("partitions") ? rate(base.partitions.ratePerSecond, 0.3) : 0 },
    crashes: { ...base.crashes, ratePerSecond: on("crashes") ? rate(base.crashes.ratePerSecond, 0.3) : 0 },
    pauses: { ...base.pauses, ratePerSecond: on("pauses") ? rate(base.pauses.ratePerSecond, 0.3) : 0 },
    clogs: { ...base.clogs, ratePerSecond: on("clogs") ? rate(base.clogs.ratePerSecond, 0.3) : 0 },
    clockSteps: { ...base.clockSteps, ratePerSecond: on("clockSteps") ? rate(base.clockSteps.ratePerSecond, 0.3) : 0 },
    clockDrifts: { ...base.clockDrifts, ratePerSecond: on("clockDrifts") ? rate(base.clockDrifts.ratePerSecond, 0.2) : 0 },
    maxDown: base.maxDown
  }
  const lossRate = stream.chance(0.5) ? stream.uniform(0, 0.3) : 0
  const duplicateRate = stream.chance(0.5) ? stream.uniform(0, 0.2) : 0
  const reorderRate = stream.chance(0.5) ? stream.uniform(0, 0.3) : 0
  const timing = drawTiming(scenario, seed)
  const harsh = drawHarsh(seed)
  const random: RandomFaults = { ...partial, stalls: timing.stalls, bounces: drawBounces(scenario, seed, harsh) }
  const protocol = protocols.get(scenario.protocol)
  const knobs = drawKnobs(protocol?.knobs ?? [], new RandomStream(seed, "swarm/knobs"), { harsh })
  const workload = drawKnobs(protocol?.workloadKnobs ?? [], new RandomStream(seed, "swarm/workload"), { harsh })
  const defaults = scenario.network.defaults
  const longDelayRate = Math.max(defaults.longDelayRate ?? 0, timing.longDelayRate)
  const options = { ...scenario.options, ...knobs }
  const slowLatencyMsMax = Math.min(drawSlowLatencyMsMax(seed, harsh), Math.round(protocol?.latencyMsLimit?.(options) ?? Infinity))
  const drawnDefaults: LinkModel = {
    ...defaults,
    latency: slowLatencyMsMax > 0 ? { _tag: "Uniform", minMs: 1, maxMs: slowLatencyMsMax } : defaults.latency,
    lossRate: Math.max(defaults.lossRate, lossRate),
    duplicateRate: Math.max(defaults.duplicateRate, duplicateRate),
    reorderRate: Math.max(defaults.reorderRate, reorderRate),
    // Left out unless drawn, so a seed without long delays draws per message as before.
    ...(longDelayRate > 0 ? { longDelayRate, longDelayMs: timing.longDelayRate > 0 ? timing.longDelayMs : defaults.longDelayMs } : {})
  }
  return {
    scenario: {
      ...scenario,
      options,
      workload: { ...scenario.workload, ...workload },
      random,
      network: { ...scenario.network, defaults: drawnDefaults, ...livenessNetwork(scenario.network, drawnDefaults) }
    },
    draw: { harsh, kinds: enabled, lossRate, duplicateRate, reorderRate, ...timing, slowLatencyMsMax, random, knobs, workload }
  }
}

/**
 * Whether a seed is harsh: one in HARSH_SHARE_INVERSE draws the ingredients that strain a protocol's
 * timing all together, where other seeds draw each for half of them on its own: a storm of bounces,
 * a slow network, and every knob and workload field from the values its protocol declares the most
 * straining (`stress`). A failure that needs several of them at once (the vote lost across a
 * restart needs pre-vote and check-quorum off, fast ticks, a slow network and bounces) then shows
 * in a seed in a dozen or so (12 of seeds 1-150), where drawing each alone made it one in hundreds.
 * FoundationDB does the same with BUGGIFY, switched on for some simulation runs only, which then
 * push many knobs to their buggified values together. Drawn from a stream of its own, so a seed
 * that is not harsh draws as before.
 */
const drawHarsh = (seed: number): boolean => new RandomStream(seed, "swarm/harsh").chance(1 / HARSH_SHARE_INVERSE)

const HARSH_SHARE_INVERSE = 3

/**
 * The network a seed's liveness phase runs on: the scenario's own (its liveness network, if it
 * names one), when the seed drew anything else. What a swarm draws for the network (loss, a slow
 * network, long delays) is a fault like the others, so it heals with them, as TigerBeetle's VOPR
 * does; the liveness phase then judges the protocol on the network its author chose. The long-delay
 * rate is written out even at zero, so that a repro's `network.liveness` does not inherit a drawn one.
 */
const livenessNetwork = (network: NetworkModel, drawn: LinkModel): { liveness?: LinkModel } => {
  const own = network.liveness ?? network.defaults
  if (JSON.stringify(own) === JSON.stringify(drawn)) return {}
  return { liveness: { ...own, longDelayRate: own.longDelayRate ?? 0 } }
}

/**
 * Timing faults, each on for half the seeds: stalled links (both directions of a link held for one
 * to five seconds by default, then delivered in a burst) up to twice the scenario's rate, and long
 * delays (up to 2% of messages held an extra 2-4 s to 3-9 s, past the election timeouts a tick of
 * 50 ms and the drawn knobs give, at most 1.5 s).
 */
const drawTiming = (
  scenario: Scenario,
  seed: number
): { stalls: RandomFaults["stalls"]; longDelayRate: number; longDelayMs: readonly [number, number] } => {
  const stream = new RandomStream(seed, "swarm/timing")
  const own = scenario.random.stalls
  const stalls = { ...own, ratePerSecond: stream.chance(0.5) ? stream.uniform(0, 2 * (own.ratePerSecond > 0 ? own.ratePerSecond : 0.1)) : 0 }
  const longDelays = stream.chance(0.5)
  const longDelayRate = longDelays ? stream.uniform(0, 0.02) : 0
  const minMs = longDelays ? Math.round(stream.uniform(2000, 4000)) : 0
  const maxMs = longDelays ? minMs + Math.round(stream.uniform(1000, 5000)) : 0
  return { stalls, longDelayRate, longDelayMs: [minMs, maxMs] }
}

/**
 * A slow network for half the seeds, and for every harsh one: every message takes 1 ms to
 * SLOW_LATENCY_MS_MAX at most, the upper bound drawn per seed and kept within what the protocol
 * declares it can stay live under (a WAN, a congested switch, a cloud region far away). Messages
 * of one exchange then reach servers tens of milliseconds apart, and a candidate's request can
 * arrive after a rival's, and after the voter restarted, as the scenario's network of a few
 * milliseconds almost never lets them. Drawn from a stream of its own so that every other draw of
 * a seed is unchanged.
 */
const drawSlowLatencyMsMax = (seed: number, harsh: boolean): number => {
  const stream = new RandomStream(seed, "swarm/network")
  // A harsh seed draws no coin: the bound is its first draw, as it was when it had no coin to draw.
  return harsh || stream.chance(0.5) ? Math.round(stream.uniform(SLOW_LATENCY_MS_MIN, SLOW_LATENCY_MS_MAX)) : 0
}

const SLOW_LATENCY_MS_MIN = 20
const SLOW_LATENCY_MS_MAX = 150

/**
 * Bounces (a server killed and restarted within milliseconds, as a process supervisor does), on
 * for half the seeds at up to twice the scenario's rate, or twice BOUNCES_PER_SECOND when it has
 * none, and for every harsh seed at one to two times that rate. A restart that fast lands between
 * two messages of one exchange, such as two candidates' votes requests of one term, which crashes
 * of seconds almost never do. Their own stream leaves every other draw of a seed as it was.
 */
const drawBounces = (scenario: Scenario, seed: number, harsh: boolean): RandomFaults["bounces"] => {
  const stream = new RandomStream(seed, "swarm/bounces")
  const own = scenario.random.bounces
  const rate = own.ratePerSecond > 0 ? own.ratePerSecond : BOUNCES_PER_SECOND
  // A harsh seed always bounces, at least at the scenario's rate (the upper half of the range).
  if (harsh) return { ...own, ratePerSecond: stream.uniform(rate, 2 * rate) }
  return { ...own, ratePerSecond: stream.chance(0.5) ? stream.uniform(0, 2 * rate) : 0 }
}

// Up to 30 a second across the cluster (each server every few hundred milliseconds, a crash loop).
// With the vote bug's own conditions forced on the shipped Raft scenario (10 ms ticks, a 1-100 ms
// network, pre-vote and check-quorum off), bounces up to 2 a second caught a voter restarting
// between two candidates' requests on none of 20 seeds, and 10 a second on 7 of them.
const BOUNCES_PER_SECOND = 15

/** One line describing a draw's faults and network, such as "crashes 0.41/s, pauses 0.12/s; loss 12%, reorder 3%". */
export const describeDraw = (draw: SwarmDraw): string => {
  const rates = draw.kinds.map((kind) => `${kind} ${draw.random[kind as (typeof KINDS)[number]].ratePerSecond.toFixed(2)}/s`)
  if (draw.random.stalls.ratePerSecond > 0) rates.push(`stalls ${draw.random.stalls.ratePerSecond.toFixed(2)}/s`)
  if (draw.random.bounces.ratePerSecond > 0) rates.push(`bounces ${draw.random.bounces.ratePerSecond.toFixed(2)}/s`)
  const percent = (value: number) => `${(value * 100).toFixed(0)}%`
  const longDelays =
    draw.longDelayRate > 0 ? `, long delays ${(draw.longDelayRate * 100).toFixed(1)}% of ${draw.longDelayMs[0]}-${draw.longDelayMs[1]} ms` : ""
  const slow = draw.slowLatencyMsMax > 0 ? `latency 1-${draw.slowLatencyMsMax} ms, ` : ""
  const harsh = draw.harsh ? "harsh: " : ""
  return `${harsh}${rates.join(", ")}; ${slow}loss ${percent(draw.lossRate)}, duplication ${percent(draw.duplicateRate)}, reordering ${percent(draw.reorderRate)}${longDelays}`
}

/** The knobs of a draw as one line, or "none" for a protocol that declares none. */
export const describeDrawnKnobs = (draw: SwarmDraw): string => (Object.keys(draw.knobs).length === 0 ? "none" : describeKnobs(draw.knobs))

/**
 * The workload shape of a draw as one line ("placement pinned, mix read-heavy, hotKeyShare 0.9"),
 * or undefined for a protocol that declares no drawable workload fields.
 */
export const describeDrawnWorkload = (draw: SwarmDraw): string | undefined =>
  Object.keys(draw.workload).length === 0 ? undefined : describeKnobs(draw.workload)
