// The operator of the quorum store: announces each membership change to every node at its time,
// and again a few times after (nodes ignore epochs they have), so a change reaches nodes that were
// cut off when it was first sent. Nodes and the client are told no more than this.
import { Effect, Schema } from "effect"
import { DurationInput, durationMs, type ProtocolRun, ScenarioError } from "../../definition/index.ts"
import { Clock, Network, type NodeProgram } from "../../env/index.ts"

/** One membership change: from `atMs` on, the ring's nodes are `nodes`. */
export interface MembershipStep {
  readonly atMs: number
  readonly nodes: ReadonlyArray<string>
}

/** A scenario's membership step: `{at: 3s, join: n6}` or `{at: 6s, leave: n2}` (the search protocol reads the same form). */
export const MembershipStepInput = Schema.Struct({
  at: DurationInput,
  join: Schema.optional(Schema.String),
  leave: Schema.optional(Schema.String)
})

/** The ring's nodes after each membership step, checked against the cluster: it never shrinks below `n` (named `nName`). */
export const membershipSteps = (
  inputs: ReadonlyArray<typeof MembershipStepInput.Type>,
  initial: ReadonlyArray<string>,
  servers: ReadonlyArray<string>,
  run: ProtocolRun,
  n: number,
  nName = "n"
): Array<MembershipStep> => {
  let members = [...initial]
  return inputs.map((input, index) => {
    const path = `${run.file}: workload.membership[${index}]`
    if ((input.join === undefined) === (input.leave === undefined)) throw new ScenarioError(`${path}: needs exactly one of join, leave`)
    const node = (input.join ?? input.leave)!
    if (!servers.includes(node)) throw new ScenarioError(`${path}: unknown node ${node}`)
    if (input.join !== undefined && members.includes(node)) throw new ScenarioError(`${path}.join: ${node} is already in the ring`)
    if (input.leave !== undefined && !members.includes(node)) throw new ScenarioError(`${path}.leave: ${node} is not in the ring`)
    members = input.join !== undefined ? [...members, node] : members.filter((member) => member !== node)
    if (members.length < n) throw new ScenarioError(`${path}.leave: the ring would keep ${members.length} nodes, fewer than ${nName} (${n})`)
    return { atMs: durationMs(input.at), nodes: [...members] }
  })
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
