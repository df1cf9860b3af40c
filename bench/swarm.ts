// Swarm throughput on the standard Raft scenario: seeds per minute with every core, and the speedup over one worker.
import { availableParallelism } from "node:os"
import { runSwarm } from "../src/cli/swarm-command.ts"
import { RAFT_STANDARD } from "./raft.ts"

/** Runs `seeds` seeds with `workers` threads; returns seeds per minute. */
const throughput = async (workers: number, seeds: number): Promise<number> => {
  const report = await runSwarm({
    file: RAFT_STANDARD,
    seeds: Array.from({ length: seeds }, (_, index) => index + 1),
    workers,
    swarm: true,
    protocolsModule: undefined,
    protocol: undefined,
    timeLimitMs: undefined,
    stopOnFirst: false
  })
  return (report.outcomes.length / report.wallMs) * 60_000
}

export const benchSwarm = async (seeds = 24): Promise<{ workers: number; seedsPerMinute: number; singleSeedsPerMinute: number }> => {
  const workers = availableParallelism()
  const single = await throughput(1, seeds / 2)
  const all = await throughput(workers, seeds)
  return { workers, seedsPerMinute: all, singleSeedsPerMinute: single }
}
