// The operator of the quorum store: announces each membership change to every node at its time,
// and again a few times after (nodes ignore epochs they have), so a change reaches nodes that were
// cut off when it was first sent. Nodes and the client are told no more than this.
import { Effect } from "effect"
import { Clock, Network, type NodeProgram } from "../../env/index.ts"

/** One membership change: from `atMs` on, the ring's nodes are `nodes`. */
export interface MembershipStep {
  readonly atMs: number
  readonly nodes: ReadonlyArray<string>
}

/** How often, and how many times, each change is announced again. */
const REPEAT_MS = 300
const REPEATS_MAX = 30

export const membershipAdmin = (servers: ReadonlyArray<string>, steps: ReadonlyArray<MembershipStep>): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    for (const [index, step] of steps.entries()) {
      const nextAtMs = steps[index + 1]?.atMs ?? Number.POSITIVE_INFINITY
      yield* clock.sleep(Math.max(0, step.atMs - (yield* clock.now)))
      const message = { _tag: "Membership", epoch: index + 1, nodes: step.nodes }
      for (let repeat = 0; repeat < REPEATS_MAX && (yield* clock.now) < nextAtMs; repeat++) {
        yield* network.sendAll(servers.map((server) => [server, message] as const))
        yield* clock.sleep(Math.min(REPEAT_MS, Math.max(1, nextAtMs - (yield* clock.now))))
      }
    }
  })
