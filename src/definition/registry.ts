// The protocols a scenario or a real cluster can name.
import { causalBroadcastProtocol } from "../protocols/causal-broadcast/definition.ts"
import { quorumStoreProtocol } from "../protocols/quorum-store/definition.ts"
import { raftProtocol } from "../protocols/raft/definition.ts"
import { searchProtocol } from "../protocols/search/definition.ts"
import { provideHnswLibrary } from "../protocols/search/index-store.ts"
import type { ProtocolDefinition } from "./protocol.ts"

// hnswlib-node is an optional peer dependency: a native addon, compiled when installed, that only
// the search protocol needs. Without it, every other protocol works and search says what to install.
const hnswlib = await import("hnswlib-node").then((module) => module.default, () => undefined)
if (hnswlib !== undefined) provideHnswLibrary(hnswlib)

/** Every shipped protocol, by the name a scenario uses. */
export const builtinProtocols: ReadonlyMap<string, ProtocolDefinition> = new Map(
  [causalBroadcastProtocol(), raftProtocol(), quorumStoreProtocol(), searchProtocol()].map((protocol) => [protocol.name, protocol])
)
