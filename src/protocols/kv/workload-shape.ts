// The shape of a key-value workload: where each client sends its requests (placement), which
// operations it favours (a named mix) and how much it crowds onto one hot key (contention).
import { Random } from "../../env/index.ts"

/**
 * Where a client sends its requests. `follow-leader`: to the server it believes leads, following
 * redirects (a smart client library). `pinned`: always to one server, chosen by the client's
 * number, which must serve or forward it (Jepsen binds each client to one node). `random`: to any
 * server, drawn afresh for every attempt (a load balancer in front of the cluster).
 */
export type Placement = "follow-leader" | "pinned" | "random"

/** Every placement, in the order a scenario or a swarm names them. */
export const PLACEMENTS: ReadonlyArray<Placement> = ["follow-leader", "pinned", "random"]

/** Named operation mixes; each store turns a name into weights of its own operations. */
export type MixName = "balanced" | "read-heavy" | "write-heavy"

/** Every named mix. */
export const MIX_NAMES: ReadonlyArray<MixName> = ["balanced", "read-heavy", "write-heavy"]

/** The server client `process` (numbered from 1) is pinned to: clients spread over the servers in turn. */
export const pinnedServer = (servers: ReadonlyArray<string>, process: number): string => {
  if (servers.length === 0) throw new Error("pinnedServer: no servers")
  return servers[(process - 1) % servers.length]!
}

/**
 * Picks an operation's key: with probability `hotKeyShare` one of `hot` (the contended keys), else
 * any key of `pool`. A share of 0 draws exactly as an uncontended workload always has, so a
 * scenario that does not ask for contention keeps its trace.
 */
export function* chooseKey(
  random: Random["Service"],
  options: {
    readonly pool: ReadonlyArray<string>
    readonly hot: ReadonlyArray<string>
    readonly hotKeyShare: number
  }
) {
  // A generator the client delegates to (`yield*`), not an Effect of its own: its draws are then
  // the client's own steps, one or two Effect steps fewer an operation than a map and a flatMap.
  // The client's Random, looked up once by the client: this runs for every operation.
  const contended = options.hotKeyShare > 0 && options.hot.length > 0
  const keys = contended && (yield* random.next) < options.hotKeyShare ? options.hot : options.pool
  return keys[yield* random.nextInt(keys.length)]!
}
