// The key-value history format (Jepsen's convention: one JSON event per line) and its parser, which
// pairs each invoke with its completion into the operations the linearizability checker reads.
import type { JsonValue } from "../env/json.ts"

export type { JsonValue }

/** The operation an event belongs to (Jepsen's `f`). */
export type OperationFunction = "read" | "write" | "cas" | "append" | "delete"

/** What an event says: a call starts (`invoke`) or ends (`ok`, `fail`, `info`). */
export type EventType = "invoke" | "ok" | "fail" | "info"

/**
 * How an operation ended: `ok` took effect, `fail` did not (a failed `cas` saw a different value),
 * `info` is unknown (a timeout, a crash): it may take effect at any time after its invoke, or never.
 */
export type Outcome = "ok" | "fail" | "info"

/** One line of a history file. */
export interface HistoryEvent {
  /** The line's position among the events, from 0, consecutive. */
  readonly index: number
  /** The client that issued the call; it has at most one call outstanding. */
  readonly process: number
  readonly type: EventType
  readonly f: OperationFunction
  readonly key: string
  /**
   * write and append: the value written or appended; cas: `[expected, new]`; read: null or absent on
   * `invoke`, and on `ok` the value read (null when the key is absent); delete: absent.
   */
  readonly value?: JsonValue
  /** Nanoseconds, an integer. */
  readonly time: number
}

interface OperationBase {
  readonly process: number
  readonly key: string
  readonly outcome: Outcome
  /** When the call was invoked, in nanoseconds. */
  readonly callTimeNs: number
  /** When the call returned, in nanoseconds; `Infinity` when the outcome is `info`, which never returns. */
  readonly returnTimeNs: number
  /** The index of the invoke event. */
  readonly invokeIndex: number
  /** The index of the completion event, or null when the history ends before the call completes. */
  readonly completionIndex: number | null
}

/** A read; `value` is what it returned (null when the key was absent, and when the read did not succeed). */
export interface ReadOperation extends OperationBase {
  readonly _tag: "Read"
  readonly value: JsonValue
}

/** A write of `value`. Writing null is the same as deleting the key. */
export interface WriteOperation extends OperationBase {
  readonly _tag: "Write"
  readonly value: JsonValue
}

/** A compare-and-swap: if the key holds `expected` (null: absent), it then holds `newValue`. */
export interface CasOperation extends OperationBase {
  readonly _tag: "Cas"
  readonly expected: JsonValue
  readonly newValue: JsonValue
}

/** Appends `value` to the list the key holds (an absent key holds the empty list). */
export interface AppendOperation extends OperationBase {
  readonly _tag: "Append"
  readonly value: JsonValue
}

/** Removes the key. */
export interface DeleteOperation extends OperationBase {
  readonly _tag: "Delete"
}

/** An invoke paired with its completion: what the call did, and when it was in flight. */
export type Operation = ReadOperation | WriteOperation | CasOperation | AppendOperation | DeleteOperation

/** The outcome of parsing: the operations, or one line naming the file, the line and the problem. */
export type ParseHistoryResult =
  | {
      readonly _tag: "Parsed"
      readonly events: ReadonlyArray<HistoryEvent>
      /** Ordered by invoke index. Calls still outstanding at the end of the history count as `info`. */
      readonly operations: ReadonlyArray<Operation>
    }
  | { readonly _tag: "ParseError"; readonly message: string }

const eventTypes: ReadonlyArray<EventType> = ["invoke", "ok", "fail", "info"]
const operationFunctions: ReadonlyArray<OperationFunction> = ["read", "write", "cas", "append", "delete"]

/**
 * Returns the JSON text of `value` with object keys sorted, so that two equal values (deep
 * equality) always have the same text. The checker compares values through this text.
 */
export const canonicalJson = (value: JsonValue): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  const record = value as { readonly [key: string]: JsonValue }
  const fields = Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key] ?? null)}`)
  return `{${fields.join(",")}}`
}

/** Returns one line of history text for `event`, keys in the fixed order index, process, type, f, key, value, time. */
export const serializeHistoryEvent = (event: HistoryEvent): string => {
  const value = event.value === undefined ? "" : `,"value":${JSON.stringify(event.value)}`
  return (
    `{"index":${event.index},"process":${event.process},"type":"${event.type}","f":"${event.f}",` +
    `"key":${JSON.stringify(event.key)}${value},"time":${event.time}}`
  )
}

/** Shortens a JSON rendering so that an error message stays on one readable line. */
const quote = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/**
 * How deeply a value may nest inside an event. The checker compares values by their canonical JSON,
 * which it builds recursively; a history's values are what clients wrote, a few levels at most.
 */
const MAX_VALUE_DEPTH = 100

/** Whether `value` nests arrays and objects more than `limit` deep, found without recursion. */
const nestedDeeperThan = (value: unknown, limit: number): boolean => {
  const stack: Array<{ readonly value: unknown; readonly depth: number }> = [{ value, depth: 0 }]
  while (stack.length > 0) {
    const { value: next, depth } = stack.pop()!
    if (next === null || typeof next !== "object") continue
    if (depth >= limit) return true
    for (const child of Object.values(next)) stack.push({ value: child, depth: depth + 1 })
  }
  return false
}

/** Returns an error message for a field, or the validated event. */
const validateEvent = (parsed: unknown, expectedIndex: number): HistoryEvent | string => {
  // Before anything quotes a field: JSON.stringify of one nested thousands deep overflows the stack.
  if (nestedDeeperThan(parsed, MAX_VALUE_DEPTH + 1)) return `the event nests more than ${MAX_VALUE_DEPTH} levels deep`
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return `expected a JSON object, found ${quote(parsed)}`
  }
  const record = parsed as Record<string, unknown>
  const { index, process, type, f, key, time } = record
  if (typeof index !== "number" || !Number.isSafeInteger(index)) return `"index" must be an integer, found ${quote(index)}`
  if (index !== expectedIndex) return `"index" is ${index}, expected ${expectedIndex} (indexes count the events from 0)`
  if (typeof process !== "number" || !Number.isSafeInteger(process)) {
    return `"process" must be an integer, found ${quote(process)}`
  }
  if (typeof type !== "string" || !eventTypes.includes(type as EventType)) {
    return `unknown "type" ${quote(type)} (expected invoke, ok, fail or info)`
  }
  if (typeof f !== "string" || !operationFunctions.includes(f as OperationFunction)) {
    return `unknown "f" ${quote(f)} (expected read, write, cas, append or delete)`
  }
  if (typeof key !== "string") return `"key" must be a string, found ${quote(key)}`
  if (typeof time !== "number" || !Number.isSafeInteger(time) || time < 0) {
    return `"time" must be a non-negative integer of nanoseconds, found ${quote(time)}`
  }
  const event: HistoryEvent = "value" in record
    ? { index, process, type: type as EventType, f: f as OperationFunction, key, value: record["value"] as JsonValue, time }
    : { index, process, type: type as EventType, f: f as OperationFunction, key, time }
  return validateValue(event)
}

/** Checks that `value` has the shape the operation's function and the event's type call for. */
const validateValue = (event: HistoryEvent): HistoryEvent | string => {
  const { f, type, value } = event
  switch (f) {
    case "read":
      if (type === "invoke" && value !== undefined && value !== null) return `a read "invoke" must have a null or absent "value"`
      if (type === "ok" && value === undefined) return `a read "ok" needs the "value" it read (null when the key is absent)`
      return event
    case "write":
    case "append":
      if (type === "invoke" && value === undefined) return `a ${f} "invoke" needs a "value"`
      return event
    case "cas":
      if (type === "invoke" && !(Array.isArray(value) && value.length === 2)) {
        return `a cas "invoke" needs "value": [expected, new], found ${quote(value)}`
      }
      return event
    case "delete":
      if (value !== undefined && value !== null) return `a delete has no "value", found ${quote(value)}`
      return event
    default: {
      const unreachable: never = f
      return unreachable
    }
  }
}

/** Builds the operation for an invoke and its completion (or none, when the history ends first). */
const makeOperation = (invoke: HistoryEvent, completion: HistoryEvent | null): Operation => {
  const outcome: Outcome = completion === null || completion.type === "info" ? "info" : completion.type === "ok" ? "ok" : "fail"
  const base = {
    process: invoke.process,
    key: invoke.key,
    outcome,
    callTimeNs: invoke.time,
    returnTimeNs: outcome === "info" || completion === null ? Number.POSITIVE_INFINITY : completion.time,
    invokeIndex: invoke.index,
    completionIndex: completion === null ? null : completion.index
  }
  const value = invoke.value ?? null
  switch (invoke.f) {
    case "read":
      return { _tag: "Read", ...base, value: outcome === "ok" ? (completion?.value ?? null) : null }
    case "write":
      return { _tag: "Write", ...base, value }
    case "cas": {
      const [expected, newValue] = value as ReadonlyArray<JsonValue>
      return { _tag: "Cas", ...base, expected: expected ?? null, newValue: newValue ?? null }
    }
    case "append":
      return { _tag: "Append", ...base, value }
    case "delete":
      return { _tag: "Delete", ...base }
    default: {
      const unreachable: never = invoke.f
      return unreachable
    }
  }
}

interface Outstanding {
  readonly event: HistoryEvent
  readonly lineNumber: number
}

/**
 * Pairs events into operations. `lineNumbers[i]` is where event i came from, for error messages.
 * Returns an error message (without the file name) or the operations.
 */
const pairEvents = (
  events: ReadonlyArray<HistoryEvent>,
  lineNumbers: ReadonlyArray<number>
): ReadonlyArray<Operation> | { readonly lineNumber: number; readonly message: string } => {
  const outstanding = new Map<number, Outstanding>()
  const operations: Operation[] = []
  for (const [position, event] of events.entries()) {
    const lineNumber = lineNumbers[position] ?? position + 1
    const pending = outstanding.get(event.process)
    if (event.type === "invoke") {
      if (pending !== undefined) {
        return {
          lineNumber,
          message: `"invoke" for process ${event.process} while its "invoke" on line ${pending.lineNumber} is still outstanding`
        }
      }
      outstanding.set(event.process, { event, lineNumber })
      continue
    }
    if (pending === undefined) return { lineNumber, message: `"${event.type}" for process ${event.process} without an "invoke"` }
    const invoke = pending.event
    if (invoke.f !== event.f) {
      return {
        lineNumber,
        message: `"${event.type}" for process ${event.process} has "f" "${event.f}" but its "invoke" on line ${pending.lineNumber} has "${invoke.f}"`
      }
    }
    if (invoke.key !== event.key) {
      return {
        lineNumber,
        message: `"${event.type}" for process ${event.process} has "key" ${quote(event.key)} but its "invoke" on line ${pending.lineNumber} has ${quote(invoke.key)}`
      }
    }
    if (event.time < invoke.time) {
      return {
        lineNumber,
        message: `"${event.type}" for process ${event.process} has "time" ${event.time}, before its "invoke" on line ${pending.lineNumber} (${invoke.time})`
      }
    }
    outstanding.delete(event.process)
    operations.push(makeOperation(invoke, event))
  }
  // A call that never completed is indistinguishable from a timeout: it may or may not have taken effect.
  for (const pending of outstanding.values()) operations.push(makeOperation(pending.event, null))
  return operations.sort((left, right) => left.invokeIndex - right.invokeIndex)
}

/**
 * Parses a history: one JSON event per line (blank lines are skipped). Never throws: bad input gives a
 * `ParseError` whose message is one line such as `history.jsonl:12: "ok" for process 3 without an "invoke"`.
 */
export const parseHistory = (text: string, fileName: string): ParseHistoryResult => {
  const events: HistoryEvent[] = []
  const lineNumbers: number[] = []
  const lines = text.split(/\r?\n/)
  for (const [lineIndex, line] of lines.entries()) {
    if (line.trim() === "") continue
    const lineNumber = lineIndex + 1
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error)
      return { _tag: "ParseError", message: `${fileName}:${lineNumber}: malformed JSON (${reason})` }
    }
    const validated = validateEvent(parsed, events.length)
    if (typeof validated === "string") return { _tag: "ParseError", message: `${fileName}:${lineNumber}: ${validated}` }
    events.push(validated)
    lineNumbers.push(lineNumber)
  }
  const paired = pairEvents(events, lineNumbers)
  if ("message" in paired) return { _tag: "ParseError", message: `${fileName}:${paired.lineNumber}: ${paired.message}` }
  return { _tag: "Parsed", events, operations: paired }
}

/**
 * Pairs events that are already in memory (from a generator or a simulation) into operations,
 * applying the same checks as {@link parseHistory}; errors name the event's line as `index + 1`.
 */
export const operationsFromEvents = (events: ReadonlyArray<HistoryEvent>, sourceName: string): ParseHistoryResult => {
  for (const [position, event] of events.entries()) {
    const validated = validateEvent(event, position)
    if (typeof validated === "string") return { _tag: "ParseError", message: `${sourceName}:${position + 1}: ${validated}` }
  }
  const paired = pairEvents(
    events,
    events.map((_, position) => position + 1)
  )
  if ("message" in paired) return { _tag: "ParseError", message: `${sourceName}:${paired.lineNumber}: ${paired.message}` }
  return { _tag: "Parsed", events, operations: paired }
}
