// The quorum store as a protocol any world can host: option and workload schemas, nodes, clients, checker.
import { Schema } from "effect"
import { QuorumStoreChecker } from "../../check/quorum-store.ts"
import { decodeSection, type Knob, type ProtocolDefinition, type ProtocolRun, ScenarioError, serverIds } from "../../definition/index.ts"
import { makePlacement, preferenceList } from "../hashring/index.ts"
import type { MixName } from "../kv/index.ts"
import { kvClients, kvWorkloadFields, kvWorkloadShrink, mixName, nonNegative, positive, positiveInt, resolveMix, weight } from "../kv/workload-schema.ts"
import { DEPTH_MAX } from "../quorum/merkle-tree.ts"
import { membershipAdmin, MembershipStepInput, membershipSteps } from "./admin-client.ts"
import { quorumClient } from "./client.ts"
import { placementWith } from "./membership.ts"
import { quorumNode } from "./node.ts"
import { quorumRealClient } from "./real-client.ts"
import { defaultQuorumRules, type QuorumConfig, type QuorumRules } from "./state.ts"


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
  merkleDepth: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: DEPTH_MAX }))),
  /** The first this-many nodes form the ring; the others join when a membership step adds them. */
  initialNodes: Schema.optional(positiveInt)
})

const Workload = Schema.Struct({
  ...kvWorkloadFields,
  /** A named mix, or weights of reads and writes (one left out keeps the balanced mix's). */
  mix: Schema.optional(Schema.Union([mixName, Schema.Struct({ read: Schema.optional(weight), write: Schema.optional(weight) })])),
  livenessBoundMs: Schema.optional(positive),
  /** Operator actions at given times: `{at: 3s, join: n6}`, `{at: 6s, leave: n2}`. */
  membership: Schema.optional(Schema.Array(MembershipStepInput))
})

/** The weights of each named mix: even, four reads to a write, four writes to a read. */
const QUORUM_MIXES: { readonly [M in MixName]: { readonly read: number; readonly write: number } } = {
  balanced: { read: 1, write: 1 },
  "read-heavy": { read: 4, write: 1 },
  "write-heavy": { read: 1, write: 4 }
}

/** The store's options with defaults filled in and checked against the cluster. */
const resolveConfig = (run: ProtocolRun, rules: QuorumRules): Omit<QuorumConfig, "self"> => {
  const input = decodeSection(Options, run, "options")
  const initialNodes = input.initialNodes ?? run.nodes
  if (initialNodes > run.nodes) throw new ScenarioError(`${run.file}: options.initialNodes: ${initialNodes} is more than the ${run.nodes} nodes`)
  const n = input.n ?? Math.min(3, run.nodes)
  const r = input.r ?? Math.floor(n / 2) + 1
  const w = input.w ?? Math.floor(n / 2) + 1
  if (n > initialNodes) throw new ScenarioError(`${run.file}: options.n: ${n} replicas need at least ${n} nodes in the ring, it starts with ${initialNodes}`)
  if (r > n) throw new ScenarioError(`${run.file}: options.r: ${r} is more than n (${n})`)
  if (w > n) throw new ScenarioError(`${run.file}: options.w: ${w} is more than n (${n})`)
  const nodes = serverIds(initialNodes).map((id) => ({ id, weight: 1 }))
  return {
    placement: makePlacement({ strategy: input.strategy ?? "consistent", nodes }),
    n,
    r,
    w,
    sloppyQuorum: input.sloppyQuorum ?? true,
    lastWriterWins: input.lastWriterWins ?? false,
    replicaTimeoutMs: input.replicaTimeoutMs ?? REPLICA_TIMEOUT_MS_DEFAULT,
    suspectMs: input.suspectMs ?? 500,
    operationTimeoutMs: input.operationTimeoutMs ?? 1000,
    handoffIntervalMs: input.handoffIntervalMs ?? 200,
    antiEntropyIntervalMs: input.antiEntropyIntervalMs ?? 250,
    merkleDepth: input.merkleDepth ?? 6,
    rules
  }
}

const REPLICA_TIMEOUT_MS_DEFAULT = 50

/**
 * What a swarm draws per seed. Only options that leave what the checks promise as it is: the
 * quorum sizes, last-writer-wins, sloppy quorums and anti-entropy are each scenario's subject (the
 * hinted-handoff scenario turns anti-entropy off to judge handoff alone, and with it a store
 * without sloppy quorums would never bring a missed owner up to date), so they are never drawn.
 * The checker's convergence wait follows the drawn timings (see convergenceMs).
 */
const quorumKnobs: ReadonlyArray<Knob> = [
  // Where keys live: the ring of virtual nodes, or highest random weight; joins and leaves move different keys.
  { _tag: "OneOf", name: "strategy", values: ["consistent", "rendezvous"] },
  // Anti-entropy's tree: a single bucket compares whole ranges in one exchange, a deep tree descends many levels.
  { _tag: "OneOf", name: "merkleDepth", values: [0, 3, 6, 10], stress: [0, 10] },
  // A stand-in that hands hints back often races the writes it carries; a replica suspected
  // briefly flaps between its stand-ins and itself.
  // Both lengthen the convergence wait (see convergenceMs); their largest values keep it near 3 s,
  // so the shipped scenarios' liveness phases (5-8 s) still judge the keys written in most of it.
  { _tag: "OneOf", name: "handoffIntervalMs", values: [50, 200, 400], stress: [50] },
  { _tag: "OneOf", name: "suspectMs", values: [100, 250, 500], stress: [100] }
]

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
  workloadShrink: kvWorkloadShrink,
  // A scenario's timeouts suit a simulated network of milliseconds; on a loaded machine a replica's
  // fsync alone can take longer than 50 ms, and a replica suspected for that would send writes to
  // stand-ins for no reason. Anti-entropy compares Merkle trees; once a second is plenty for real time.
  clusterOptions: { replicaTimeoutMs: 250, suspectMs: 2000, operationTimeoutMs: 3000, handoffIntervalMs: 500, antiEntropyIntervalMs: 1000 },
  realClient: quorumRealClient,
  knobs: quorumKnobs,
  // No drawn workload shape yet: drawn shapes move the planted quorum bugs' first failing seeds to
  // runs that shrink to more faults than test/quorum-bugs.test.ts allows. Scenarios may still set
  // placement, mix and hotKeyShare (a hot key is what found the short duplicate-Put window).
  // A coordinator waits replicaTimeoutMs for each replica's answer, so it is meant for networks whose
  // round trip fits in that wait; a swarm's slow network stays within half of it.
  latencyMsLimit: (options) => (typeof options.replicaTimeoutMs === "number" ? options.replicaTimeoutMs : REPLICA_TIMEOUT_MS_DEFAULT) / 2,
  build: (run) => {
    const config = resolveConfig(run, { ...defaultQuorumRules, ...rules })
    const workload = decodeSection(Workload, run, "workload")
    const servers = serverIds(run.nodes)
    const mix = resolveMix(workload.mix, QUORUM_MIXES)
    const clients = kvClients(workload, servers, (process, shared) => quorumClient(process, { ...shared, mix }), run.file)
    const steps = membershipSteps(workload.membership ?? [], config.placement.nodes.map((node) => node.id), servers, run, config.n)
    const finalPlacement = placementWith(config.placement, steps[steps.length - 1]?.nodes ?? config.placement.nodes.map((node) => node.id))
    if (steps.length > 0) clients.push({ id: "admin", program: membershipAdmin(servers, steps) })
    const checker = new QuorumStoreChecker({
      livenessBoundMs: workload.livenessBoundMs ?? 3000,
      ownersOf: (key) => preferenceList(finalPlacement, key, config.n),
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
