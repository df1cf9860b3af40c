// The Raft core's programmer-error checks are the ones every protocol shares.
export { absurd, assert, AssertionError } from "../assert.ts"
