// The quorum store's figures: ring lookups per second against a plain sorted-array binary search
// over the same tokens, and the store's simulated throughput on its partition scenario.
import { builtinProtocols } from "../src/definition/registry.ts"
import { type ConsistentRing, makePlacement, preferenceListAt } from "../src/protocols/hashring/index.ts"
import { murmur3 } from "../src/protocols/hashring/hash.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"

export const QUORUM_SCENARIO = "scenarios/quorum-partitions.yaml"

/** Lookups per second of each kind, over the same hashes. */
export interface RingFigures {
  readonly nodes: number
  readonly tokens: number
  readonly coordinatorPerSecond: number
  readonly preferenceListPerSecond: number
  readonly binarySearchPerSecond: number
}

const LOOKUPS = 200_000

/** The index of the first position at or after `hash`, wrapping to 0: the textbook ring lookup. */
const binarySearch = (positions: Uint32Array, hash: number): number => {
  let low = 0
  let high = positions.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (positions[middle]! < hash) low = middle + 1
    else high = middle
  }
  return low === positions.length ? 0 : low
}

const timed = (run: () => number): { perSecond: number; checksum: number } => {
  for (let warm = 0; warm < 3; warm++) run()
  let best = Number.POSITIVE_INFINITY
  let checksum = 0
  for (let round = 0; round < 5; round++) {
    const started = performance.now()
    checksum = run()
    best = Math.min(best, performance.now() - started)
  }
  return { perSecond: (LOOKUPS / best) * 1000, checksum }
}

/** Ring lookups (the coordinator, and a preference list of 3) against a bare binary search over the token positions. */
export const benchRing = (nodes = 50): RingFigures => {
  const ring = makePlacement({ strategy: "consistent", nodes: Array.from({ length: nodes }, (_, index) => ({ id: `n${index + 1}`, weight: 1 })) }) as ConsistentRing
  const positions = Uint32Array.from(ring.tokens.map((token) => token.position))
  const hashes = Array.from({ length: LOOKUPS }, (_, index) => murmur3(`key-${index}`))
  const coordinator = timed(() => hashes.reduce((sum, hash) => sum + preferenceListAt(ring, hash, 1)[0]!.length, 0))
  const preferenceList = timed(() => hashes.reduce((sum, hash) => sum + preferenceListAt(ring, hash, 3).length, 0))
  const search = timed(() => hashes.reduce((sum, hash) => sum + binarySearch(positions, hash), 0))
  return {
    nodes,
    tokens: positions.length,
    coordinatorPerSecond: coordinator.perSecond,
    preferenceListPerSecond: preferenceList.perSecond,
    binarySearchPerSecond: search.perSecond
  }
}

/** What the store did on its partition scenario, seeds 1..`seeds`. */
export interface QuorumFigures {
  readonly seeds: number
  readonly acknowledged: number
  readonly simulatedMs: number
  readonly wallMs: number
  readonly failures: number
}

export const benchQuorumStore = (seeds = 3): QuorumFigures => {
  const scenario = loadScenario(QUORUM_SCENARIO)
  runScenario(scenario, { seed: 1001, protocols: builtinProtocols })
  let acknowledged = 0
  let simulatedMs = 0
  let failures = 0
  const started = performance.now()
  for (let seed = 1; seed <= seeds; seed++) {
    const result = runScenario(scenario, { seed, protocols: builtinProtocols })
    acknowledged += (result.history ?? []).filter((event) => event.type === "ok").length
    simulatedMs += result.simulatedMs
    if (!result.ok) failures++
  }
  return { seeds, acknowledged, simulatedMs, wallMs: performance.now() - started, failures }
}
