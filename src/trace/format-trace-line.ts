// The one serializer of trace lines: hand-built JSON per kind, because the simulator writes one for nearly every event it runs.
import { encodeMessage } from "../env/index.ts"
import type { SendLine, TraceFault, TraceLine } from "./trace-line.ts"

/** Most strings kept quoted; a trace repeats a few node ids, file and event names a great many times. */
const QUOTED_MAX = 4096

const quotedStrings = new Map<string, string>()

/**
 * A string as JSON. Node ids, event names and file names come back again and again; they are
 * quoted once. Past `QUOTED_MAX` distinct strings (a protocol that puts ids in event names) the
 * rest are quoted each time, so the cache stays bounded.
 */
const quote = (text: string): string => {
  let quoted = quotedStrings.get(text)
  if (quoted === undefined) {
    quoted = JSON.stringify(text)
    if (quotedStrings.size < QUOTED_MAX) quotedStrings.set(text, quoted)
  }
  return quoted
}

/** Attributes as JSON; `{}` when there are none, as for most events. */
const attributesJson = (attributes: object): string => JSON.stringify(attributes)

/**
 * A send line, given its message already encoded as JSON (`msgJson`): the simulator encodes each
 * message once, for the receiver's copy and for the trace.
 */
export const formatSendLine = (line: SendLine, msgJson: string): string => {
  const head = `{"t":${line.t},"e":"send","id":${line.id},"from":${quote(line.from)},"to":${quote(line.to)}`
  return line.at === undefined ? `${head},"msg":${msgJson}}` : `${head},"at":${line.at},"msg":${msgJson}}`
}

/**
 * The JSON text of a trace line, without a newline. Keys always come in the order the line's type
 * declares them, whatever the order of the object's own keys, so equal lines give equal bytes (the
 * trace hash depends on it).
 */
export const formatTraceLine = (line: TraceLine): string => {
  const head = `{"t":${line.t},"e":"${line.e}"`
  switch (line.e) {
    case "send":
      return formatSendLine(line, encodeMessage(line.msg))
    case "timer":
      return `${head},"node":${quote(line.node)}}`
    case "event":
      return `${head},"node":${quote(line.node)},"name":${quote(line.name)},"attrs":${attributesJson(line.attrs)}}`
    case "drop":
      return `${head},"id":${line.id},"reason":"${line.reason}"}`
    case "duplicate":
      return `${head},"id":${line.id},"at":${line.at}}`
    case "hold":
      return `${head},"id":${line.id}}`
    case "deliver":
      return `${head},"id":${line.id},"to":${quote(line.to)}}`
    case "sync":
      return `${head},"node":${quote(line.node)},"file":${quote(line.file)}}`
    case "disk-error":
      return `${head},"node":${quote(line.node)},"file":${quote(line.file)},"operation":${quote(line.operation)}}`
    case "span-start":
      return `${head},"node":${quote(line.node)},"span":${line.span},"name":${quote(line.name)},"attrs":${attributesJson(line.attrs)},"localMs":${line.localMs}}`
    case "span-end":
      return `${head},"node":${quote(line.node)},"span":${line.span},"outcome":"${line.outcome}","localMs":${line.localMs}}`
    case "fault":
      return `${head},"fault":${formatFault(line.fault)}}`
    case "run":
      return `${head},"protocol":${quote(line.protocol)},"seed":${line.seed},"nodes":${line.nodes}}`
    case "phase":
      return `${head},"phase":"${line.phase}"}`
    case "violation":
      return `${head},"check":${quote(line.check)},"message":${JSON.stringify(line.message)}}`
    case "start":
      return `${head},"node":${quote(line.node)},"pid":${line.pid},"unixMs":${line.unixMs}}`
    case "connection":
      return formatConnection(head, line)
    default: {
      const unreachable: never = line
      throw new Error(`unknown trace line ${JSON.stringify(unreachable)}`)
    }
  }
}

const nullable = (text: string | null): string => (text === null ? "null" : JSON.stringify(text))

const formatConnection = (head: string, line: Extract<TraceLine, { e: "connection" }>): string =>
  `${head},"node":${quote(line.node)},"kind":"${line.kind}","peer":${nullable(line.peer)},"address":${quote(line.address)},` +
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
      return `${head}}`
    case "Crash": {
      const torn = fault.torn === undefined ? "" : `,"torn":{"file":${quote(fault.torn.file)},"keptBytes":${fault.torn.keptBytes}}`
      return `${head},"node":${quote(fault.node)}${torn}}`
    }
    case "Restart":
    case "Pause":
    case "Resume":
    case "ClockReset":
      return `${head},"node":${quote(fault.node)}}`
    case "Clog":
    case "Unclog":
      return `${head},"from":${quote(fault.from)},"to":${quote(fault.to)}}`
    case "ClockOffset":
      return `${head},"node":${quote(fault.node)},"offsetMs":${fault.offsetMs}}`
    case "ClockStep":
      return `${head},"node":${quote(fault.node)},"deltaMs":${fault.deltaMs}}`
    case "ClockDrift":
      return `${head},"node":${quote(fault.node)},"drift":${fault.drift}}`
    default: {
      const unreachable: never = fault
      throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
    }
  }
}
