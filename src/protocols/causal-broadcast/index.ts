// Reliable causal broadcast over vector clocks: the public entry of the protocol.
export { type BroadcastState, type DeliverableRule, deliverable, receive } from "./core.ts"
export type { Data, Message, Sync } from "./messages.ts"
export { type CausalBroadcastHooks, type CausalBroadcastOptions, causalBroadcastNode, defaultCausalBroadcastOptions } from "./node.ts"
