// The protocols a scenario file can name.
import type { ProtocolDefinition } from "./protocol.ts"
import { causalBroadcastProtocol } from "./protocols/causal-broadcast.ts"

/** Every shipped protocol, by the name a scenario uses. */
export const builtinProtocols: ReadonlyMap<string, ProtocolDefinition> = new Map(
  [causalBroadcastProtocol()].map((protocol) => [protocol.name, protocol])
)
