// The protocols a scenario or a real cluster can name.
import { causalBroadcastProtocol } from "../protocols/causal-broadcast/definition.ts"
import { quorumStoreProtocol } from "../protocols/quorum-store/definition.ts"
import { raftProtocol } from "../protocols/raft/definition.ts"
import type { ProtocolDefinition } from "./protocol.ts"

/** Every shipped protocol, by the name a scenario uses. */
export const builtinProtocols: ReadonlyMap<string, ProtocolDefinition> = new Map(
  [causalBroadcastProtocol(), raftProtocol(), quorumStoreProtocol()].map((protocol) => [protocol.name, protocol])
)
