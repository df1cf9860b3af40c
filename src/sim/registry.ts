// The protocols a scenario file can name.
import type { ProtocolDefinition } from "./protocol.ts"
import { causalBroadcastProtocol } from "./protocols/causal-broadcast.ts"
import { raftProtocol } from "./protocols/raft.ts"

/** Every shipped protocol, by the name a scenario uses. */
export const builtinProtocols: ReadonlyMap<string, ProtocolDefinition> = new Map(
  [causalBroadcastProtocol(), raftProtocol()].map((protocol) => [protocol.name, protocol])
)
