// Randomness as a node sees it: a seeded stream of its own, never Math.random.
import { Context, type Effect } from "effect"

/**
 * The randomness service. In the simulator each node has its own stream derived from the run's
 * seed, so adding a node does not reshuffle the draws of the others.
 */
export class Random extends Context.Service<Random, {
  /** A number in [0, 1). */
  readonly next: Effect.Effect<number>
  /** An integer in [0, bound). */
  readonly nextInt: (bound: number) => Effect.Effect<number>
}>()("faultline/Random") {}
