// The replicated key-value state machine with client sessions (thesis §6.3): applying committed
// entries exactly once per (clientId, sequence), and converting to and from snapshot data.
import { absurd, assert } from "./assert.ts"
import { type Command, type Entry, isConfigChange, type JsonValue, type KvOperation } from "./types.ts"

/** The answer to one key-value operation. */
export type KvResult =
  /** Get: the value, or null if the key is absent. */
  | { readonly _tag: "Value"; readonly value: JsonValue | null }
  /** Put, Delete and Append. */
  | { readonly _tag: "Ok" }
  /** Cas: whether it swapped, and the value the key held before the operation. */
  | { readonly _tag: "CasResult"; readonly ok: boolean; readonly current: JsonValue | null }
  /**
   * The request's sequence is older than the session's latest; its answer is no longer kept,
   * and the client has already moved on (it issues one request at a time per session).
   */
  | { readonly _tag: "StaleSequence"; readonly lastSequence: number }

/** The outcome of applying one entry. */
export type ApplyResult =
  | { readonly _tag: "Noop" }
  | { readonly _tag: "ConfigChange" }
  | {
      readonly _tag: "Kv"
      readonly clientId: string
      readonly sequence: number
      readonly result: KvResult
      /** Whether the request had been applied before and `result` is the stored answer. */
      readonly duplicate: boolean
    }

interface Session {
  readonly sequence: number
  readonly result: KvResult
}

/**
 * The state machine's state. `apply` mutates it in place (it is large and applied often);
 * `snapshotData` copies it into plain JSON.
 */
export interface KvState {
  /** The index of the last entry applied; entries must come in index order without gaps. */
  appliedIndex: number
  readonly values: Map<string, JsonValue>
  readonly sessions: Map<string, Session>
}

/** An empty state machine, before index 1. */
export function emptyKvState(): KvState {
  return { appliedIndex: 0, values: new Map(), sessions: new Map() }
}

/**
 * Applies the next committed entry. A Kv request whose (clientId, sequence) was already applied
 * is not applied again: the stored answer is returned instead, which makes a client's retries
 * safe after a lost reply or a leader change (thesis §6.3).
 */
export function apply(state: KvState, entry: Entry): ApplyResult {
  assert(entry.index === state.appliedIndex + 1, () => `applying entry ${entry.index} after ${state.appliedIndex}`)
  state.appliedIndex = entry.index
  const command = entry.command
  if (command._tag === "Noop") return { _tag: "Noop" }
  if (isConfigChange(command)) return { _tag: "ConfigChange" }
  const request = asKvCommand(command)
  assert(request !== undefined, () => `entry ${entry.index} carries ${JSON.stringify(command)}, not a key-value command`)
  return applyRequest(state, request.clientId, request.sequence, request.operation)
}

/** The key-value store's command in the log: an operation within a client session. */
export type KvCommand = {
  readonly _tag: "Kv"
  /** The client session; with `sequence` it makes a retried request apply exactly once. */
  readonly clientId: string
  readonly sequence: number
  readonly operation: KvOperation
}

/** The command as a key-value command, or undefined when it is another application's. */
export const asKvCommand = (command: Command): KvCommand | undefined =>
  command._tag === "Kv" ? (command as unknown as KvCommand) : undefined

function applyRequest(state: KvState, clientId: string, sequence: number, operation: KvOperation): ApplyResult {
  const session = state.sessions.get(clientId)
  if (session !== undefined && sequence <= session.sequence) {
    const result: KvResult =
      sequence === session.sequence ? session.result : { _tag: "StaleSequence", lastSequence: session.sequence }
    return { _tag: "Kv", clientId, sequence, result, duplicate: true }
  }
  const result = applyOperation(state.values, operation)
  state.sessions.set(clientId, { sequence, result })
  return { _tag: "Kv", clientId, sequence, result, duplicate: false }
}

function applyOperation(values: Map<string, JsonValue>, operation: KvOperation): KvResult {
  const current = values.get(operation.key) ?? null
  switch (operation._tag) {
    case "Get":
      return { _tag: "Value", value: current }
    case "Put":
      values.set(operation.key, operation.value)
      return { _tag: "Ok" }
    case "Delete":
      values.delete(operation.key)
      return { _tag: "Ok" }
    case "Cas": {
      const ok = jsonEqual(current, operation.expected)
      if (ok) values.set(operation.key, operation.value)
      return { _tag: "CasResult", ok, current }
    }
    case "Append":
      values.set(operation.key, appended(current, operation.value))
      return { _tag: "Ok" }
    default:
      return absurd(operation)
  }
}

/**
 * The list after appending `value`. A key holding a non-list value is treated as a one-element
 * list, so Append never fails. A new array is built so that stored values are never mutated.
 */
function appended(current: JsonValue | null, value: JsonValue): JsonValue {
  if (current === null) return [value]
  if (Array.isArray(current)) return [...(current as ReadonlyArray<JsonValue>), value]
  return [current, value]
}

/** Structural equality of JSON values (object key order does not matter). */
export function jsonEqual(a: JsonValue | null, b: JsonValue | null): boolean {
  if (a === b) return true
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return false
    const left = a as ReadonlyArray<JsonValue>
    const right = b as ReadonlyArray<JsonValue>
    if (left.length !== right.length) return false
    for (let position = 0; position < left.length; position++) {
      if (!jsonEqual(left[position] ?? null, right[position] ?? null)) return false
    }
    return true
  }
  const left = a as { readonly [key: string]: JsonValue }
  const right = b as { readonly [key: string]: JsonValue }
  const keys = Object.keys(left)
  if (keys.length !== Object.keys(right).length) return false
  for (const key of keys) {
    if (!Object.hasOwn(right, key) || !jsonEqual(left[key] ?? null, right[key] ?? null)) return false
  }
  return true
}

/** Copies the state into plain JSON for a snapshot; keys are sorted so equal states encode equally. */
export function snapshotData(state: KvState): JsonValue {
  const values = [...state.values.entries()].sort(([a], [b]) => compare(a, b))
  const sessions = [...state.sessions.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([clientId, session]) => [clientId, session.sequence, session.result as unknown as JsonValue])
  return { appliedIndex: state.appliedIndex, values, sessions }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Rebuilds a state from `snapshotData` output. `null` (the data of the empty base snapshot) gives
 * the empty state. Data of any other shape is a bug in whoever stored it.
 */
export function restore(data: JsonValue): KvState {
  if (data === null) return emptyKvState()
  assert(typeof data === "object" && !Array.isArray(data), "snapshot data must be an object")
  const record = data as { readonly [key: string]: JsonValue }
  const appliedIndex = record["appliedIndex"]
  const values = record["values"]
  const sessions = record["sessions"]
  assert(typeof appliedIndex === "number", "snapshot data lacks appliedIndex")
  assert(Array.isArray(values), "snapshot data lacks values")
  assert(Array.isArray(sessions), "snapshot data lacks sessions")
  const state: KvState = { appliedIndex, values: new Map(), sessions: new Map() }
  for (const pair of values as ReadonlyArray<JsonValue>) {
    assert(Array.isArray(pair) && pair.length === 2, "a snapshot value is a [key, value] pair")
    const [key, value] = pair as ReadonlyArray<JsonValue>
    assert(typeof key === "string" && value !== undefined, "a snapshot key is a string")
    state.values.set(key, value)
  }
  for (const triple of sessions as ReadonlyArray<JsonValue>) {
    assert(Array.isArray(triple) && triple.length === 3, "a snapshot session is [clientId, sequence, result]")
    const [clientId, sequence, result] = triple as ReadonlyArray<JsonValue>
    assert(typeof clientId === "string" && typeof sequence === "number", "a session has an id and a sequence")
    assert(typeof result === "object" && result !== null && !Array.isArray(result), "a session has a result")
    state.sessions.set(clientId, { sequence, result: result as unknown as KvResult })
  }
  return state
}
