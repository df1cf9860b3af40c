// The one serializer of trace lines: hand-built JSON per kind, because the simulator writes one for nearly every event it runs.
import { encodeMessage } from "../env/index.ts"
import type { DropReason, SendLine, TraceFault, TraceLine } from "./trace-line.ts"

/**
 * A string's JSON text without its quotes, exactly as `JSON.stringify` writes it. Node ids, event
 * and file names need no escaping: they come back as they are, with no call to JSON.stringify and
 * nothing allocated, which matters on a line the simulator writes for nearly every event. A quote,
 * a backslash, a control character or a surrogate (escaped by JSON.stringify when unpaired) takes
 * the long way.
 */
const escaped = (text: string): string => {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) return JSON.stringify(text).slice(1, -1)
  }
  return text
}

/** Attributes as JSON; `{}` when there are none, as for most events. */
const attributesJson = (attributes: object): string => JSON.stringify(attributes)

/**
 * A send line, given its message already encoded as JSON (`msgJson`): the simulator encodes each
 * message once, for the receiver's copy and for the trace.
 */
export const formatSendLine = (line: SendLine, msgJson: string): string => sendLineText(line.t, line.id, line.from, line.to, line.at, msgJson)

// The lines the simulator writes for nearly every event (sends, timers, protocol events, syncs,
// drops) are also made from their fields, so that it builds no line object for them, reads no
// field of one through a megamorphic load and takes no switch on its kind: under callgrind, 3
// rounds of the standard scenario spent 28 M instructions in formatTraceLine, and about 14 M less
// in all this way. Each kind's text is written once, here, and `formatTraceLine` uses the same
// functions.

/** A send line's text from its fields; `at` is undefined for a message dropped at once. */
export const sendLineText = (t: number, id: number, from: string, to: string, at: number | undefined, msgJson: string): string => {
  const head = `{"t":${t},"e":"send","id":${id},"from":"${escaped(from)}","to":"${escaped(to)}"`
  return at === undefined ? `${head},"msg":${msgJson}}` : `${head},"at":${at},"msg":${msgJson}}`
}

/** A timer line's text from its fields. */
export const timerLineText = (t: number, node: string): string => `{"t":${t},"e":"timer","node":"${escaped(node)}"}`

/** A protocol event line's text from its fields. */
export const eventLineText = (t: number, node: string, name: string, attributes: object): string =>
  `{"t":${t},"e":"event","node":"${escaped(node)}","name":"${escaped(name)}","attrs":${attributesJson(attributes)}}`

/** A sync line's text from its fields. */
export const syncLineText = (t: number, node: string, file: string): string =>
  `{"t":${t},"e":"sync","node":"${escaped(node)}","file":"${escaped(file)}"}`

/** A drop line's text from its fields. */
export const dropLineText = (t: number, id: number, reason: DropReason): string => `{"t":${t},"e":"drop","id":${id},"reason":"${reason}"}`

/**
 * The JSON text of a trace line, without a newline. Keys always come in the order the line's type
 * declares them, whatever the order of the object's own keys, so equal lines give equal bytes (the
 * trace hash depends on it).
 */
export const formatTraceLine = (line: TraceLine): string => {
  switch (line.e) {
    case "send":
      return formatSendLine(line, encodeMessage(line.msg))
    case "timer":
      return timerLineText(line.t, line.node)
    case "event":
      return eventLineText(line.t, line.node, line.name, line.attrs)
    case "drop":
      return dropLineText(line.t, line.id, line.reason)
    case "duplicate":
      return `{"t":${line.t},"e":"duplicate","id":${line.id},"at":${line.at}}`
    case "hold":
      return `{"t":${line.t},"e":"hold","id":${line.id}}`
    case "deliver":
      return `{"t":${line.t},"e":"deliver","id":${line.id},"to":"${escaped(line.to)}"}`
    case "sync":
      return syncLineText(line.t, line.node, line.file)
    case "disk-error":
      return `{"t":${line.t},"e":"disk-error","node":"${escaped(line.node)}","file":"${escaped(line.file)}","operation":"${escaped(line.operation)}"}`
    case "span-start":
      return `{"t":${line.t},"e":"span-start","node":"${escaped(line.node)}","span":${line.span},"name":"${escaped(line.name)}","attrs":${attributesJson(line.attrs)},"localMs":${line.localMs}}`
    case "span-end":
      return `{"t":${line.t},"e":"span-end","node":"${escaped(line.node)}","span":${line.span},"outcome":"${line.outcome}","localMs":${line.localMs}}`
    case "fault":
      return `{"t":${line.t},"e":"fault","fault":${formatFault(line.fault)}}`
    case "run":
      return `{"t":${line.t},"e":"run","protocol":"${escaped(line.protocol)}","seed":${line.seed},"nodes":${line.nodes}}`
    case "phase":
      return `{"t":${line.t},"e":"phase","phase":"${line.phase}"}`
    case "violation":
      return `{"t":${line.t},"e":"violation","check":"${escaped(line.check)}","message":${JSON.stringify(line.message)}}`
    case "start":
      return `{"t":${line.t},"e":"start","node":"${escaped(line.node)}","pid":${line.pid},"unixMs":${line.unixMs}}`
    case "connection":
      return formatConnection(line)
    default: {
      const unreachable: never = line
      throw new Error(`unknown trace line ${JSON.stringify(unreachable)}`)
    }
  }
}

const nullable = (text: string | null): string => (text === null ? "null" : JSON.stringify(text))

const formatConnection = (line: Extract<TraceLine, { e: "connection" }>): string =>
  `{"t":${line.t},"e":"connection","node":"${escaped(line.node)}","kind":"${line.kind}","peer":${nullable(line.peer)},"address":"${escaped(line.address)}",` +
  `"direction":"${line.direction}","reason":${nullable(line.reason)}}`

/** A fault as JSON, `_tag` first. Faults are rare: clarity before speed here. */
const formatFault = (fault: TraceFault): string => {
  const head = `{"_tag":"${fault._tag}"`
  switch (fault._tag) {
    case "Partition":
      return `${head},"groups":${JSON.stringify(fault.groups)}}`
    case "PartitionOneWay":
      return `${head},"from":${JSON.stringify(fault.from)},"to":${JSON.stringify(fault.to)}}`
    case "Heal":
    case "NetworkReset":
      return `${head}}`
    case "Crash": {
      const torn = fault.torn === undefined ? "" : `,"torn":{"file":"${escaped(fault.torn.file)}","keptBytes":${fault.torn.keptBytes}}`
      return `${head},"node":"${escaped(fault.node)}"${torn}}`
    }
    case "Restart":
    case "Pause":
    case "Resume":
    case "ClockReset":
      return `${head},"node":"${escaped(fault.node)}"}`
    case "Clog":
    case "Unclog":
      return `${head},"from":"${escaped(fault.from)}","to":"${escaped(fault.to)}"}`
    case "ClockOffset":
      return `${head},"node":"${escaped(fault.node)}","offsetMs":${fault.offsetMs}}`
    case "ClockStep":
      return `${head},"node":"${escaped(fault.node)}","deltaMs":${fault.deltaMs}}`
    case "ClockDrift":
      return `${head},"node":"${escaped(fault.node)}","drift":${fault.drift}}`
    default: {
      const unreachable: never = fault
      throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
    }
  }
}
