// An operator of the Raft cluster: at given times it asks the leader for membership changes or leadership transfers.
import { Effect } from "effect"
import { Clock, Network, type NodeProgram, Tracing } from "../../env/index.ts"
import { type AdminAction, type AdminOutcome, awaitReply, isAdminReply } from "./client-messages.ts"

/** One scheduled operator action. */
export interface AdminStep {
  readonly atMs: number
  readonly action: AdminAction
}

/** Rejections that clear up by themselves, so the operator tries again. */
const TRANSIENT = new Set(["ConfigChangeInProgress", "NoCommitInTerm", "TransferInProgress"])

/**
 * Performs `steps` in order, each at its time (by this node's clock). Each one is retried against
 * whichever server claims to lead until it is taken or rejected for good, or `giveUpMs` passes.
 * Outcomes are reported as `admin` trace events.
 */
export const adminClient = (servers: ReadonlyArray<string>, steps: ReadonlyArray<AdminStep>, giveUpMs = 5000): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const tracing = yield* Tracing
    let target = servers[0]!
    let serverIndex = 0
    for (const [stepIndex, step] of steps.entries()) {
      const wait = step.atMs - (yield* clock.now)
      if (wait > 0) yield* clock.sleep(wait)
      const started = yield* clock.now
      let outcome: AdminOutcome | undefined
      for (let attempt = 1; (yield* clock.now) - started < giveUpMs; attempt++) {
        const requestId = `admin:${stepIndex}:${attempt}`
        yield* network.send(target, { _tag: "AdminRequest", requestId, action: step.action })
        const answer = yield* awaitReply({
          network,
          clock,
          timeoutMs: 300,
          accept: (message) => isAdminReply(message) && message.requestId === requestId ? message.outcome : undefined
        })
        if (answer === undefined) {
          serverIndex = (serverIndex + 1) % servers.length
          target = servers[serverIndex]!
          continue
        }
        if (answer._tag === "NotLeader") {
          target = answer.leaderHint ?? servers[(serverIndex = (serverIndex + 1) % servers.length)]!
          yield* clock.sleep(50)
          continue
        }
        if (answer._tag === "Rejected" && TRANSIENT.has(answer.reason)) {
          yield* clock.sleep(100)
          continue
        }
        outcome = answer
        break
      }
      yield* tracing.event("admin", {
        action: step.action,
        outcome: outcome === undefined ? "gave up" : outcome._tag === "Done" ? "done" : `rejected: ${(outcome as { reason: string }).reason}`
      })
    }
  })
