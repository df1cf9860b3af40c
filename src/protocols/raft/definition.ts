// The Raft key-value store as a protocol any world can host: option and workload schemas, servers, clients and the checker.
import { Schema } from "effect"
import { RaftChecker } from "../../check/raft.ts"
import {
  decodeSection,
  DurationInput,
  durationMs,
  type Knob,
  type ProtocolDefinition,
  ScenarioError,
  serverIds
} from "../../definition/index.ts"
import type { MixName } from "../kv/index.ts"
import { kvClients, kvWorkloadFields, kvWorkloadKnobs, kvWorkloadShrink, mixName, nonNegativeInt, positive, positiveInt, resolveMix, weight } from "../kv/workload-schema.ts"
import { adminClient, type AdminStep } from "./admin-client.ts"
import { raftClient, type RaftMix } from "./client.ts"
import { raftRealClient } from "./real-client.ts"
import { defaultRaftServerOptions, raftServer, type RaftServerOptions, type ServerHooks } from "./server.ts"


const Options = Schema.Struct({
  tickMs: Schema.optional(positive),
  electionTimeoutTicksMin: Schema.optional(positiveInt),
  electionTimeoutTicksMax: Schema.optional(positiveInt),
  heartbeatTicks: Schema.optional(positiveInt),
  preVote: Schema.optional(Schema.Boolean),
  checkQuorum: Schema.optional(Schema.Boolean),
  maxEntriesPerAppend: Schema.optional(positiveInt),
  maxInflightAppends: Schema.optional(positiveInt),
  snapshotEveryEntries: Schema.optional(nonNegativeInt),
  /** The first this-many servers found the cluster; the others start empty and join when added. */
  initialVoters: Schema.optional(positiveInt)
})

const AdminStepInput = Schema.Struct({
  at: DurationInput,
  add: Schema.optional(Schema.String),
  remove: Schema.optional(Schema.String),
  transfer: Schema.optional(Schema.String)
})

const Workload = Schema.Struct({
  ...kvWorkloadFields,
  /** A named mix, or weights of each operation (those left out keep the balanced mix's). */
  mix: Schema.optional(
    Schema.Union([
      mixName,
      Schema.Struct({
        read: Schema.optional(weight),
        write: Schema.optional(weight),
        cas: Schema.optional(weight),
        append: Schema.optional(weight),
        delete: Schema.optional(weight)
      })
    ])
  ),
  livenessBoundMs: Schema.optional(positive),
  /** Operator actions at given times: `{at: 3s, add: n4}`, `{at: 5s, remove: n2}`, `{at: 6s, transfer: n3}`. */
  admin: Schema.optional(Schema.Array(AdminStepInput)),
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

/**
 * The fewest election timeouts a server may draw from: the width of [electionTimeoutTicksMin,
 * electionTimeoutTicksMax). With one, every server times out on the same tick, and without
 * pre-vote they can split the vote forever (a swarm seed did, for a whole liveness phase).
 */
const ELECTION_TIMEOUT_SPAN_MIN = 2

/**
 * What a swarm draws per seed. The timing ranges keep apart (heartbeat 1-3 ticks, election
 * timeouts 5-14 then 16-30), so every combination, and every one with some knobs back at their
 * defaults (2, 10, 20), keeps heartbeatTicks < electionTimeoutTicksMin and leaves at least
 * ELECTION_TIMEOUT_SPAN_MIN timeouts to draw from.
 * The tick's length scales them all alike, so it is free; latencyMsLimit keeps a slow network
 * drawn with it below the shortest election timeout.
 */
const raftKnobs: ReadonlyArray<Knob> = [
  // Each `stress` is what a swarm's harsh seeds draw (see Knob). Without pre-vote every timeout
  // starts a real election; without check-quorum a follower votes while it has a leader and a cut-off
  // leader keeps leading. Both are safety nets a correct Raft must not need.
  { _tag: "Flag", name: "preVote", stress: false },
  { _tag: "Flag", name: "checkQuorum", stress: false },
  // A narrow election timeout range makes candidates time out together, so terms are contested
  // (the Raft paper's Figure 16: split votes multiply as the range narrows), down to two timeouts.
  { _tag: "Integer", name: "electionTimeoutTicksMin", min: 5, max: 14, stress: [12, 14] },
  { _tag: "Integer", name: "electionTimeoutTicksMax", min: 16, max: 30, stress: [16, 18] },
  { _tag: "Integer", name: "heartbeatTicks", min: 1, max: 3, stress: [2, 3] },
  // Small batches and a deep pipeline keep many appends in flight at once, to be reordered, lost
  // and answered late; frequent snapshots send followers InstallSnapshot instead of entries.
  { _tag: "OneOf", name: "maxEntriesPerAppend", values: [1, 4, 16, 64, 256], stress: [1, 4] },
  { _tag: "Integer", name: "maxInflightAppends", min: 1, max: 16, stress: [8, 16] },
  { _tag: "OneOf", name: "snapshotEveryEntries", values: [0, 20, 100, 200, 1000], stress: [20] },
  // Last, so that adding it left every other knob a seed drew as it was. Faster ticks with the
  // same tick counts mean more elections a second, each one more likely to be contested.
  { _tag: "OneOf", name: "tickMs", values: [10, 20, 50], stress: [10] }
]

/**
 * The weights of each named mix. Balanced is the mix scenarios always had; read-heavy makes four
 * operations in five reads; write-heavy makes nine in ten writes, cas and appends (appends pile up
 * in lists, where a write applied twice shows).
 */
const RAFT_MIXES: { readonly [K in MixName]: RaftMix } = {
  balanced: { read: 3, write: 3, cas: 2, append: 1, delete: 0.5 },
  "read-heavy": { read: 16, write: 2, cas: 1, append: 1, delete: 0 },
  "write-heavy": { read: 1, write: 4, cas: 2, append: 3, delete: 0 }
}

/** The Raft key-value store, with a seam for tests to plant bugs in a server (see ServerHooks). */
export const raftProtocol = (name = "raft", hooks: ServerHooks = {}): ProtocolDefinition => ({
  name,
  description: "Raft replicated key-value store (pre-vote, check-quorum, snapshots, ReadIndex, sessions)",
  workloadShrink: kvWorkloadShrink,
  // A snapshot every 200 entries lets a simulated run of seconds reach InstallSnapshot; on a real
  // disk each one costs four syncs and two renames, and at thousands of writes a second it halved
  // a cluster's throughput. etcd 3.4 snapshots every 100,000 entries.
  clusterOptions: { snapshotEveryEntries: 10_000 },
  realClient: raftRealClient,
  knobs: raftKnobs,
  workloadKnobs: kvWorkloadKnobs,
  // Raft needs broadcast time below the election timeout (§5.6). A one-way latency of up to the
  // shortest timeout still elects leaders now and then, since most messages take far less (the vote
  // bug's own scenario runs up to 100 ms against 150 ms); one well past it, with loss, elected none.
  // A swarm heals the network it drew for the liveness phase (see swarm-faults.ts): at this bound,
  // with a quarter of messages lost and no pre-vote, seed 454 elected for all of its liveness phase
  // when the slow network stayed, each new leader deposed by a follower its heartbeat reached late.
  latencyMsLimit: (options) => {
    const resolved = resolveOptions(options as OptionsInput)
    return resolved.tickMs * resolved.electionTimeoutTicksMin
  },
  build: (run) => {
    const optionsInput = decodeSection(Options, run, "options")
    const options = resolveOptions(optionsInput)
    // The range is [min, max): one value would give every server the same timeout, and servers
    // that time out together split the vote again and again (the Raft paper, §5.2 and Figure 16).
    if (options.electionTimeoutTicksMax < options.electionTimeoutTicksMin + ELECTION_TIMEOUT_SPAN_MIN) {
      throw new ScenarioError(
        `${run.file}: options.electionTimeoutTicksMax: must be at least electionTimeoutTicksMin + ${ELECTION_TIMEOUT_SPAN_MIN} (${options.electionTimeoutTicksMin + ELECTION_TIMEOUT_SPAN_MIN}), so that servers draw different election timeouts`
      )
    }
    if (options.heartbeatTicks >= options.electionTimeoutTicksMin) {
      throw new ScenarioError(`${run.file}: options.heartbeatTicks: must be below electionTimeoutTicksMin`)
    }
    const workload = decodeSection(Workload, run, "workload")
    const servers = serverIds(run.nodes)
    const initialVoters = optionsInput.initialVoters ?? run.nodes
    if (initialVoters > run.nodes) {
      throw new ScenarioError(`${run.file}: options.initialVoters: ${initialVoters} is more than the ${run.nodes} nodes`)
    }
    const founders = servers.slice(0, initialVoters)
    const adminSteps = (workload.admin ?? []).map((step, index) => adminStep(step, index, run.file, servers))
    const mix = resolveMix(workload.mix, RAFT_MIXES)
    const clients = kvClients(workload, servers, (process, shared) => raftClient(process, { ...shared, mix }), run.file)
    const checker = new RaftChecker({
      livenessBoundMs: workload.livenessBoundMs ?? 5000,
      linearizabilityBudgetMs: workload.linearizabilityBudgetMs ?? 10_000,
      voters: founders
    })
    if (adminSteps.length > 0) clients.push({ id: "admin", program: adminClient(servers, adminSteps) })
    return {
      // Founders bootstrap the cluster; a server outside it starts with no peers and joins when added.
      server: (id) => raftServer(founders.includes(id) ? founders : [], options, hooks),
      clients,
      checkers: [checker],
      history: () => checker.history
    }
  }
})

const adminStep = (
  input: typeof AdminStepInput.Type,
  index: number,
  file: string,
  servers: ReadonlyArray<string>
): AdminStep => {
  const path = `workload.admin[${index}]`
  const given = (["add", "remove", "transfer"] as const).filter((key) => input[key] !== undefined)
  if (given.length !== 1) throw new ScenarioError(`${file}: ${path}: needs exactly one of add, remove, transfer`)
  const key = given[0]!
  const node = input[key]!
  if (!servers.includes(node)) throw new ScenarioError(`${file}: ${path}.${key}: unknown node ${node}`)
  const atMs = durationMs(input.at)
  switch (key) {
    case "add":
      return { atMs, action: { _tag: "AddNode", node } }
    case "remove":
      return { atMs, action: { _tag: "RemoveNode", node } }
    case "transfer":
      return { atMs, action: { _tag: "TransferLeadership", target: node } }
  }
}
