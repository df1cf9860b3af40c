// The one reader of trace lines: parses and validates them, since a trace file on disk is input that may be cut short or damaged.
import type { ProtocolEvent } from "../check/checker.ts"
import type { TraceFault, TraceLine, TraceLineKind } from "./trace-line.ts"

/** What a field's value must be, and how a message says so. */
interface FieldKind {
  readonly expected: string
  readonly test: (value: unknown) => boolean
}

const isString = (value: unknown): value is string => typeof value === "string"
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const string: FieldKind = { expected: "a string", test: isString }
const nullableString: FieldKind = { expected: "a string or null", test: (value) => value === null || isString(value) }
const number: FieldKind = { expected: "a number", test: (value) => typeof value === "number" && Number.isFinite(value) }
const integer: FieldKind = { expected: "an integer", test: (value) => Number.isSafeInteger(value) }
const count: FieldKind = { expected: "a non-negative integer", test: (value) => Number.isSafeInteger(value) && (value as number) >= 0 }
const json: FieldKind = { expected: "a JSON value", test: (value) => value !== undefined }
const attributes: FieldKind = { expected: "an object", test: isObject }
const nodes: FieldKind = { expected: "an array of node ids", test: (value) => Array.isArray(value) && value.every(isString) }
const groups: FieldKind = { expected: "an array of arrays of node ids", test: (value) => Array.isArray(value) && value.every(nodes.test) }
const oneOf = (...values: ReadonlyArray<string>): FieldKind => ({
  expected: values.map((value) => `"${value}"`).join(" or "),
  test: (value) => isString(value) && values.includes(value)
})
const torn: FieldKind = {
  expected: 'an object with "file" and "keptBytes"',
  test: (value) => isObject(value) && isString(value["file"]) && count.test(value["keptBytes"]) && Object.keys(value).length === 2
}

/** A field of a line: its name, what it holds, and whether it may be left out. */
interface Field {
  readonly name: string
  readonly kind: FieldKind
  readonly optional?: boolean
}

/** The fields of one kind of line besides `t` and `e`, named as its type names them, in the order the serializer writes them. */
type FieldsOf<Value> = ReadonlyArray<Field & { readonly name: Exclude<keyof Value, "t" | "e" | "_tag"> }>

/** Every kind of fault and its fields besides `_tag`, as {@link TRACE_LINE_FIELDS} lists those of lines. */
export const TRACE_FAULT_FIELDS: { readonly [Tag in TraceFault["_tag"]]: FieldsOf<Extract<TraceFault, { _tag: Tag }>> } = {
  Partition: [{ name: "groups", kind: groups }],
  PartitionOneWay: [{ name: "from", kind: nodes }, { name: "to", kind: nodes }],
  Heal: [],
  Crash: [{ name: "node", kind: string }, { name: "torn", kind: torn, optional: true }],
  Restart: [{ name: "node", kind: string }],
  Pause: [{ name: "node", kind: string }],
  Resume: [{ name: "node", kind: string }],
  Clog: [{ name: "from", kind: string }, { name: "to", kind: string }],
  Unclog: [{ name: "from", kind: string }, { name: "to", kind: string }],
  ClockOffset: [{ name: "node", kind: string }, { name: "offsetMs", kind: number }],
  ClockStep: [{ name: "node", kind: string }, { name: "deltaMs", kind: number }],
  ClockDrift: [{ name: "node", kind: string }, { name: "drift", kind: number }],
  ClockReset: [{ name: "node", kind: string }],
  NetworkReset: []
}

const fault: FieldKind = {
  expected: "a fault (an object with a known _tag and its fields)",
  test: (value) => isObject(value) && isString(value["_tag"]) && Object.hasOwn(TRACE_FAULT_FIELDS, value["_tag"]) &&
    fieldProblem(value, TRACE_FAULT_FIELDS[value["_tag"] as TraceFault["_tag"]], new Set(["_tag"])) === undefined
}

/**
 * Every kind of line and its fields. Typed against the union, so a field named here that its type
 * lacks does not compile; the round-trip test checks that the serializer writes exactly these.
 */
export const TRACE_LINE_FIELDS: { readonly [Kind in TraceLineKind]: FieldsOf<Extract<TraceLine, { e: Kind }>> } = {
  run: [{ name: "protocol", kind: string }, { name: "seed", kind: integer }, { name: "nodes", kind: count }],
  phase: [{ name: "phase", kind: oneOf("liveness") }],
  violation: [{ name: "check", kind: string }, { name: "message", kind: string }],
  fault: [{ name: "fault", kind: fault }],
  send: [
    { name: "id", kind: count },
    { name: "from", kind: string },
    { name: "to", kind: string },
    { name: "at", kind: integer, optional: true },
    { name: "msg", kind: json }
  ],
  duplicate: [{ name: "id", kind: count }, { name: "at", kind: integer }],
  hold: [{ name: "id", kind: count }],
  deliver: [{ name: "id", kind: count }, { name: "to", kind: string }],
  drop: [{ name: "id", kind: count }, { name: "reason", kind: oneOf("loss", "partition", "unknown-node", "down", "mailbox-full") }],
  timer: [{ name: "node", kind: string }],
  sync: [{ name: "node", kind: string }, { name: "file", kind: string }],
  "disk-error": [{ name: "node", kind: string }, { name: "file", kind: string }, { name: "operation", kind: string }],
  event: [{ name: "node", kind: string }, { name: "name", kind: string }, { name: "attrs", kind: attributes }],
  "span-start": [
    { name: "node", kind: string },
    { name: "span", kind: count },
    { name: "name", kind: string },
    { name: "attrs", kind: attributes },
    { name: "localMs", kind: number }
  ],
  "span-end": [
    { name: "node", kind: string },
    { name: "span", kind: count },
    { name: "outcome", kind: oneOf("ok", "error") },
    { name: "localMs", kind: number }
  ],
  start: [{ name: "node", kind: string }, { name: "pid", kind: count }, { name: "unixMs", kind: number }],
  connection: [
    { name: "node", kind: string },
    { name: "kind", kind: oneOf("Connected", "Refused", "Lost") },
    { name: "peer", kind: nullableString },
    { name: "address", kind: string },
    { name: "direction", kind: oneOf("outbound", "inbound") },
    { name: "reason", kind: nullableString }
  ]
}

/** The first thing wrong with `value`'s fields (one missing, mistyped or unknown), or undefined. */
const fieldProblem = (value: Record<string, unknown>, fields: ReadonlyArray<Field>, common: ReadonlySet<string>): string | undefined => {
  for (const field of fields) {
    const present = Object.hasOwn(value, field.name)
    if (!present && field.optional === true) continue
    if (!present) return `needs "${field.name}" (${field.kind.expected})`
    if (!field.kind.test(value[field.name])) return `"${field.name}" must be ${field.kind.expected}`
  }
  for (const key of Object.keys(value)) {
    if (!common.has(key) && !fields.some((field) => field.name === key)) return `has an unknown field "${key}"`
  }
  return undefined
}

const LINE_COMMON = new Set(["t", "e"])

/** Validates a parsed JSON value as a trace line: the line, or what is wrong with it. */
export const validateTraceLine = (value: unknown): TraceLine | string => {
  if (!isObject(value)) return "a trace line must be a JSON object"
  const kind = value["e"]
  if (!isString(kind)) return 'a trace line needs "e" (a string naming its kind)'
  if (!Object.hasOwn(TRACE_LINE_FIELDS, kind)) return `unknown kind of trace line "${kind}"`
  if (!integer.test(value["t"])) return `a "${kind}" line needs "t" (an integer number of microseconds)`
  const problem = fieldProblem(value, TRACE_LINE_FIELDS[kind as TraceLineKind], LINE_COMMON)
  return problem === undefined ? (value as unknown as TraceLine) : `a "${kind}" line ${problem}`
}

/** Parses one line of trace text: the line, or a message saying what is wrong with it. */
export const parseTraceLine = (text: string): TraceLine | string => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return "not a JSON trace line"
  }
  return validateTraceLine(value)
}

/** A line of a trace file and its line number (from 1). */
export interface NumberedTraceLine {
  readonly number: number
  readonly line: TraceLine
}

/**
 * Parses a trace file: every line with its number, or a one-line message naming `source:line`
 * and what is wrong there. Blank lines are skipped, and so is a last line that is not JSON and has
 * no newline after it: a crash cut it short, and it carries nothing a reader can trust.
 */
export const parseNumberedTraceFile = (text: string, source: string): Array<NumberedTraceLine> | string => {
  const lines: Array<NumberedTraceLine> = []
  const texts = text.split("\n")
  for (let index = 0; index < texts.length; index++) {
    const lineText = texts[index]!
    if (lineText.trim() === "") continue
    const parsed = parseTraceLine(lineText)
    if (typeof parsed !== "string") {
      lines.push({ number: index + 1, line: parsed })
      continue
    }
    if (index === texts.length - 1 && !isJson(lineText)) continue
    return `${source}:${index + 1}: ${parsed}`
  }
  return lines
}

/** Parses a trace file as {@link parseNumberedTraceFile} does, keeping only the lines. */
export const parseTraceFile = (text: string, source: string): Array<TraceLine> | string => {
  const numbered = parseNumberedTraceFile(text, source)
  return typeof numbered === "string" ? numbered : numbered.map((entry) => entry.line)
}

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** A protocol event read from a trace file, with where it was read (`file:line`), for a reader's messages. */
export interface TraceFileEvent extends ProtocolEvent {
  readonly place: string
}

/**
 * The protocol events of a trace file, as checkers take them (every line is validated; only
 * `event` lines are kept), or a one-line message naming the first bad line. Events of several
 * nodes' files can be merged and sorted by `timeUs` when the nodes share a clock origin.
 */
export const parseTraceEvents = (text: string, source: string): Array<TraceFileEvent> | string => {
  const lines = parseNumberedTraceFile(text, source)
  if (typeof lines === "string") return lines
  const events: Array<TraceFileEvent> = []
  for (const { number, line } of lines) {
    if (line.e !== "event") continue
    events.push({ timeUs: line.t, node: line.node, name: line.name, attributes: line.attrs, place: `${source}:${number}` })
  }
  return events
}
