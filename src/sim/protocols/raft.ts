// Binds the Raft key-value store to the harness: option and workload schemas, servers, clients and the checker.
import { Schema } from "effect"
import { RaftChecker } from "../../check/raft.ts"
import { raftClient } from "../../protocols/raft/client.ts"
import { defaultRaftServerOptions, raftServer, type RaftServerOptions, type ServerHooks } from "../../protocols/raft/server.ts"
import { decodeSection, type ProtocolDefinition } from "../protocol.ts"
import { ScenarioError, serverIds } from "../scenario.ts"

const positive = Schema.Finite.check(Schema.isGreaterThan(0))
const positiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const nonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const weight = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

const Options = Schema.Struct({
  tickMs: Schema.optional(positive),
  electionTimeoutTicksMin: Schema.optional(positiveInt),
  electionTimeoutTicksMax: Schema.optional(positiveInt),
  heartbeatTicks: Schema.optional(positiveInt),
  preVote: Schema.optional(Schema.Boolean),
  checkQuorum: Schema.optional(Schema.Boolean),
  maxEntriesPerAppend: Schema.optional(positiveInt),
  maxInflightAppends: Schema.optional(positiveInt),
  snapshotEveryEntries: Schema.optional(nonNegativeInt)
})

const Workload = Schema.Struct({
  clients: Schema.optional(positiveInt),
  keys: Schema.optional(positiveInt),
  operationsPerClient: Schema.optional(nonNegativeInt),
  thinkMs: Schema.optional(positive),
  requestTimeoutMs: Schema.optional(positive),
  operationTimeoutMs: Schema.optional(positive),
  mix: Schema.optional(
    Schema.Struct({
      read: Schema.optional(weight),
      write: Schema.optional(weight),
      cas: Schema.optional(weight),
      append: Schema.optional(weight),
      delete: Schema.optional(weight)
    })
  ),
  livenessBoundMs: Schema.optional(positive),
  linearizabilityBudgetMs: Schema.optional(positive)
})

type OptionsInput = typeof Options.Type

const resolveOptions = (input: OptionsInput): RaftServerOptions => {
  const defaults = defaultRaftServerOptions
  return {
    tickMs: input.tickMs ?? defaults.tickMs,
    electionTimeoutTicksMin: input.electionTimeoutTicksMin ?? defaults.electionTimeoutTicksMin,
    electionTimeoutTicksMax: input.electionTimeoutTicksMax ?? defaults.electionTimeoutTicksMax,
    heartbeatTicks: input.heartbeatTicks ?? defaults.heartbeatTicks,
    preVote: input.preVote ?? defaults.preVote,
    checkQuorum: input.checkQuorum ?? defaults.checkQuorum,
    maxEntriesPerAppend: input.maxEntriesPerAppend ?? defaults.maxEntriesPerAppend,
    maxInflightAppends: input.maxInflightAppends ?? defaults.maxInflightAppends,
    snapshotEveryEntries: input.snapshotEveryEntries ?? defaults.snapshotEveryEntries
  }
}

/** The Raft key-value store, with a seam for tests to plant bugs in a server (see ServerHooks). */
export const raftProtocol = (name = "raft", hooks: ServerHooks = {}): ProtocolDefinition => ({
  name,
  description: "Raft replicated key-value store (pre-vote, check-quorum, snapshots, ReadIndex, sessions)",
  setup: (scenario) => {
    const options = resolveOptions(decodeSection(Options, scenario, "options"))
    if (options.electionTimeoutTicksMax <= options.electionTimeoutTicksMin) {
      throw new ScenarioError(`${scenario.file}: options.electionTimeoutTicksMax: must be above electionTimeoutTicksMin`)
    }
    if (options.heartbeatTicks >= options.electionTimeoutTicksMin) {
      throw new ScenarioError(`${scenario.file}: options.heartbeatTicks: must be below electionTimeoutTicksMin`)
    }
    const workload = decodeSection(Workload, scenario, "workload")
    const servers = serverIds(scenario.nodes)
    const keys = Array.from({ length: workload.keys ?? 5 }, (_, index) => `k${index + 1}`)
    const mix = {
      read: workload.mix?.read ?? 3,
      write: workload.mix?.write ?? 3,
      cas: workload.mix?.cas ?? 2,
      append: workload.mix?.append ?? 1,
      delete: workload.mix?.delete ?? 0.5
    }
    const clientCount = workload.clients ?? 3
    const clients = Array.from({ length: clientCount }, (_, index) => ({
      id: `c${index + 1}`,
      program: raftClient(index + 1, {
        servers,
        keys,
        operations: workload.operationsPerClient ?? 100,
        thinkMs: workload.thinkMs ?? 50,
        requestTimeoutMs: workload.requestTimeoutMs ?? 300,
        operationTimeoutMs: workload.operationTimeoutMs ?? 2000,
        mix
      })
    }))
    const checker = new RaftChecker({
      livenessBoundMs: workload.livenessBoundMs ?? 5000,
      linearizabilityBudgetMs: workload.linearizabilityBudgetMs ?? 10_000
    })
    return {
      server: () => raftServer(servers, options, hooks),
      clients,
      checkers: [checker],
      history: () => checker.history
    }
  }
})
