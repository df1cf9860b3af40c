// The protocols a scenario or a real cluster can name.
import { createRequire } from "node:module"
import { causalBroadcastProtocol } from "../protocols/causal-broadcast/definition.ts"
import { quorumStoreProtocol } from "../protocols/quorum-store/definition.ts"
import { raftProtocol } from "../protocols/raft/definition.ts"
import { searchProtocol } from "../protocols/search/definition.ts"
import { provideHnswLibrary } from "../protocols/search/index-store.ts"
import type { ProtocolDefinition } from "./protocol.ts"

type HnswLibrary = Parameters<typeof provideHnswLibrary>[0]

// hnswlib-node is an optional peer dependency: a native addon, compiled when installed, that only
// the search protocol needs. Without it, every other protocol works and search says what to install.
// It is required, not imported with a top-level await, so that the package can be require()d too
// (a user's protocols module compiled as CommonJS requires it; Node 20.19 loads ES modules so, but
// not a module graph with a top-level await).
const hnswlib = ((): HnswLibrary | undefined => {
  try {
    return createRequire(import.meta.url)("hnswlib-node") as HnswLibrary
  } catch {
    return undefined
  }
})()
if (hnswlib !== undefined) provideHnswLibrary(hnswlib)

/** Every shipped protocol, by the name a scenario uses. */
export const builtinProtocols: ReadonlyMap<string, ProtocolDefinition> = new Map(
  [causalBroadcastProtocol(), raftProtocol(), quorumStoreProtocol(), searchProtocol()].map((protocol) => [protocol.name, protocol])
)
