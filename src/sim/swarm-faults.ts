// Swarm mode (TigerBeetle's VOPR style): each seed draws its own fault mix and network from itself, within the scenario's bounds.
import { RandomStream } from "./random-streams.ts"
import type { RandomFaults, Scenario } from "./scenario.ts"

/** What a seed drew, printed with every failure so a person can see what kind of run it was. */
export interface SwarmDraw {
  readonly kinds: ReadonlyArray<string>
  readonly lossRate: number
  readonly duplicateRate: number
  readonly reorderRate: number
  readonly random: RandomFaults
}

const KINDS = ["partitions", "crashes", "pauses", "clogs", "clockSteps", "clockDrifts"] as const

/**
 * Returns the scenario as this seed runs it in swarm mode. Every fault kind is on or off by a coin
 * flip (at least one is on), and its rate is drawn up to twice the scenario's own (or a default when
 * the scenario leaves it off); loss, duplication and reordering are drawn up to 30%, 20% and 30%.
 * Some seeds thus get all partitions, some all crashes, some a quiet network and a storm of pauses.
 * Scheduled faults stay as written. The draw comes from its own stream, so it is the same whenever
 * the seed runs.
 */
export const swarmScenario = (scenario: Scenario, seed: number): { scenario: Scenario; draw: SwarmDraw } => {
  const stream = new RandomStream(seed, "swarm")
  const base = scenario.random
  let enabled = KINDS.filter(() => stream.chance(0.5))
  if (enabled.length === 0) enabled = [stream.pick(KINDS)]
  const rate = (own: number, fallback: number) => stream.uniform(0, 2 * (own > 0 ? own : fallback))
  const on = (kind: (typeof KINDS)[number]) => enabled.includes(kind)
  const random: RandomFaults = {
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
  const defaults = scenario.network.defaults
  return {
    scenario: {
      ...scenario,
      random,
      network: {
        ...scenario.network,
        defaults: {
          ...defaults,
          lossRate: Math.max(defaults.lossRate, lossRate),
          duplicateRate: Math.max(defaults.duplicateRate, duplicateRate),
          reorderRate: Math.max(defaults.reorderRate, reorderRate)
        }
      }
    },
    draw: { kinds: enabled, lossRate, duplicateRate, reorderRate, random }
  }
}

/** One line describing a draw, such as "crashes 0.41/s, pauses 0.12/s; loss 12%, reorder 3%". */
export const describeDraw = (draw: SwarmDraw): string => {
  const rates = draw.kinds.map((kind) => `${kind} ${draw.random[kind as (typeof KINDS)[number]].ratePerSecond.toFixed(2)}/s`)
  const percent = (value: number) => `${(value * 100).toFixed(0)}%`
  return `${rates.join(", ")}; loss ${percent(draw.lossRate)}, duplication ${percent(draw.duplicateRate)}, reordering ${percent(draw.reorderRate)}`
}
