// The public entry of the Raft core: the pure state machine the Effect shell drives, its data
// types, and the key-value state machine it replicates. Internals stay behind this file.
export { newRaft, maxPendingReads, type Raft, type ProgressView } from "./raft.ts"
export {
  apply,
  emptyKvState,
  jsonEqual,
  restore,
  snapshotData,
  type ApplyResult,
  type KvResult,
  type KvState
} from "./state-machine.ts"
export { AssertionError } from "./assert.ts"
export type * from "./types.ts"
