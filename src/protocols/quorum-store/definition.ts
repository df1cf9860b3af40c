// The quorum store as a protocol any world can host: option and workload schemas, nodes, clients, checker.
import { Schema } from "effect"
import { QuorumStoreChecker } from "../../check/quorum-store.ts"
import { decodeSection, type ProtocolDefinition, type ProtocolRun, ScenarioError, serverIds } from "../../definition/index.ts"
import { makePlacement, preferenceList } from "../hashring/index.ts"
import { DEPTH_MAX } from "../quorum/merkle-tree.ts"
import { quorumClient } from "./client.ts"
import { quorumNode } from "./node.ts"
import { defaultQuorumRules, type QuorumConfig, type QuorumRules } from "./state.ts"

const positive = Schema.Finite.check(Schema.isGreaterThan(0))
const positiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const nonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

const Options = Schema.Struct({
  n: Schema.optional(positiveInt),
  r: Schema.optional(positiveInt),
  w: Schema.optional(positiveInt),
  strategy: Schema.optional(Schema.Literals(["consistent", "rendezvous"])),
  sloppyQuorum: Schema.optional(Schema.Boolean),
  lastWriterWins: Schema.optional(Schema.Boolean),
  replicaTimeoutMs: Schema.optional(positive),
  suspectMs: Schema.optional(positive),
  operationTimeoutMs: Schema.optional(positive),
  handoffIntervalMs: Schema.optional(positive),
  /** 0 turns anti-entropy off (hinted handoff and read repair alone then bring replicas up to date). */
  antiEntropyIntervalMs: Schema.optional(nonNegative),
  merkleDepth: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: DEPTH_MAX })))
})

const Workload = Schema.Struct({
  clients: Schema.optional(positiveInt),
  keys: Schema.optional(positiveInt),
  operationsPerClient: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  thinkMs: Schema.optional(positive),
  requestTimeoutMs: Schema.optional(positive),
  operationTimeoutMs: Schema.optional(positive),
  mix: Schema.optional(Schema.Struct({ read: Schema.optional(nonNegative), write: Schema.optional(nonNegative) })),
  livenessBoundMs: Schema.optional(positive)
})

/** The store's options with defaults filled in and checked against the cluster. */
const resolveConfig = (run: ProtocolRun, rules: QuorumRules): Omit<QuorumConfig, "self"> => {
  const input = decodeSection(Options, run, "options")
  const n = input.n ?? Math.min(3, run.nodes)
  const r = input.r ?? Math.floor(n / 2) + 1
  const w = input.w ?? Math.floor(n / 2) + 1
  if (n > run.nodes) throw new ScenarioError(`${run.file}: options.n: ${n} replicas need at least ${n} nodes, the run has ${run.nodes}`)
  if (r > n) throw new ScenarioError(`${run.file}: options.r: ${r} is more than n (${n})`)
  if (w > n) throw new ScenarioError(`${run.file}: options.w: ${w} is more than n (${n})`)
  const nodes = serverIds(run.nodes).map((id) => ({ id, weight: 1 }))
  return {
    placement: makePlacement({ strategy: input.strategy ?? "consistent", nodes }),
    n,
    r,
    w,
    sloppyQuorum: input.sloppyQuorum ?? true,
    lastWriterWins: input.lastWriterWins ?? false,
    replicaTimeoutMs: input.replicaTimeoutMs ?? 50,
    suspectMs: input.suspectMs ?? 500,
    operationTimeoutMs: input.operationTimeoutMs ?? 1000,
    handoffIntervalMs: input.handoffIntervalMs ?? 200,
    antiEntropyIntervalMs: input.antiEntropyIntervalMs ?? 250,
    merkleDepth: input.merkleDepth ?? 6,
    rules
  }
}

/** How long handoff and anti-entropy need, once healed, to bring every owner up to date. */
const convergenceMs = (config: Omit<QuorumConfig, "self">): number => {
  const handoff = config.operationTimeoutMs + config.suspectMs + 3 * config.handoffIntervalMs
  const antiEntropy = 2 * config.placement.nodes.length * config.antiEntropyIntervalMs
  return Math.max(handoff, antiEntropy) + 500
}

/** The Dynamo-style quorum store, with a seam for tests to plant bugs (see QuorumRules). */
export const quorumStoreProtocol = (name = "quorum", rules: Partial<QuorumRules> = {}): ProtocolDefinition => ({
  name,
  description: "Dynamo-style quorum store: N/R/W, sloppy quorum and hinted handoff, DVV siblings, read repair, Merkle anti-entropy",
  build: (run) => {
    const config = resolveConfig(run, { ...defaultQuorumRules, ...rules })
    const workload = decodeSection(Workload, run, "workload")
    const servers = serverIds(run.nodes)
    const keys = Array.from({ length: workload.keys ?? 5 }, (_, index) => `k${index + 1}`)
    const clients = Array.from({ length: workload.clients ?? 3 }, (_, index) => ({
      id: `c${index + 1}`,
      program: quorumClient(index + 1, {
        servers,
        keys,
        operations: workload.operationsPerClient ?? 100,
        thinkMs: workload.thinkMs ?? 50,
        requestTimeoutMs: workload.requestTimeoutMs ?? 300,
        operationTimeoutMs: workload.operationTimeoutMs ?? 2000,
        mix: { read: workload.mix?.read ?? 1, write: workload.mix?.write ?? 1 }
      })
    }))
    const checker = new QuorumStoreChecker({
      livenessBoundMs: workload.livenessBoundMs ?? 3000,
      ownersOf: (key) => preferenceList(config.placement, key, config.n),
      convergenceMs: convergenceMs(config),
      lastWriterWins: config.lastWriterWins
    })
    return {
      server: () => quorumNode((self) => ({ ...config, self })),
      clients,
      checkers: [checker],
      history: () => checker.history
    }
  }
})
