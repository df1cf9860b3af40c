// Reads a run's typed trace lines into what the viewer draws: lanes, message arrows, outages, network faults and marks.
import { serverIds } from "../definition/input.ts"
import type { FaultLine, SendLine, TraceFault, TraceLine } from "../trace/index.ts"
import { type Mark, MESSAGE_TEXT_MAX, MessageFate, type MessageColumns, type NetworkFault, type Outage, type ViewData } from "./view-data.ts"

/** The parts of a view that come from the trace lines alone. */
export interface TraceView extends Pick<ViewData, "lanes" | "types" | "messages" | "outages" | "networkFaults" | "marks"> {
  readonly endUs: number
  readonly livenessStartUs: number | null
  readonly run: { readonly protocol: string; readonly seed: number; readonly nodes: number } | null
}

/** Protocol events the viewer shows elsewhere: the clients' history is the client timeline. */
const TIMELINE_EVENTS: ReadonlySet<string> = new Set(["history"])

const cut = (text: string): string => (text.length > MESSAGE_TEXT_MAX ? `${text.slice(0, MESSAGE_TEXT_MAX - 1)}…` : text)

/** Builds the lanes and drawings of a trace. It reads the lines and never changes them. */
export const traceView = (lines: ReadonlyArray<TraceLine>): TraceView => {
  const builder = new TraceViewBuilder(lines)
  for (const line of lines) builder.add(line)
  return builder.finish()
}

class TraceViewBuilder {
  private readonly laneIndex = new Map<string, number>()
  readonly lanes: Array<string> = []
  private readonly typeIndex = new Map<string, number>()
  readonly types: Array<string> = []
  readonly messages: MessageColumns = { id: [], from: [], to: [], sendUs: [], endUs: [], type: [], fate: [], copy: [], text: [] }
  /** The arrows of each message id: the original first, then its copies. */
  private readonly arrowsOf = new Map<number, Array<number>>()
  readonly outages: Array<Outage> = []
  private readonly openOutages = new Map<number, { kind: "crash" | "pause"; startUs: number; text: string }>()
  readonly networkFaults: Array<NetworkFault> = []
  private readonly openNetworkFaults: Array<{ startUs: number; lanes: Array<number>; text: string; link?: string }> = []
  readonly marks: Array<Mark> = []
  private endUs = 0
  private livenessStartUs: number | null = null
  private run: TraceView["run"] = null

  constructor(lines: ReadonlyArray<TraceLine>) {
    const first = lines[0]
    if (first?.e === "run") {
      this.run = { protocol: first.protocol, seed: first.seed, nodes: first.nodes }
      for (const id of serverIds(first.nodes)) this.lane(id)
    }
  }

  lane(node: string): number {
    const known = this.laneIndex.get(node)
    if (known !== undefined) return known
    this.laneIndex.set(node, this.lanes.length)
    this.lanes.push(node)
    return this.lanes.length - 1
  }

  add(line: TraceLine): void {
    this.endUs = Math.max(this.endUs, line.t, line.e === "send" || line.e === "duplicate" ? line.at ?? 0 : 0)
    switch (line.e) {
      case "run":
      case "timer":
      case "span-start":
      case "span-end":
      case "start":
      case "connection":
        return
      case "phase":
        this.livenessStartUs = line.t
        return
      case "violation":
        this.marks.push({ lane: -1, timeUs: line.t, kind: "violation", name: line.check, text: `✗ ${line.check}: ${line.message}` })
        return
      case "fault":
        return this.fault(line)
      case "send":
        return this.send(line)
      case "duplicate":
        return this.duplicate(line.id, line.t, line.at)
      case "hold":
        return this.setFate(line.id, line.t, MessageFate.held, "held by a clogged link")
      case "deliver":
        return this.deliver(line.id, line.t)
      case "drop":
        return this.setFate(line.id, line.t, MessageFate.dropped, `dropped: ${line.reason}`)
      case "sync":
        return
      case "disk-error":
        this.marks.push({ lane: this.lane(line.node), timeUs: line.t, kind: "storage", name: "disk-error", text: `disk error: ${line.operation} ${line.file}` })
        return
      case "event":
        if (TIMELINE_EVENTS.has(line.name)) return
        this.marks.push({ lane: this.lane(line.node), timeUs: line.t, kind: "event", name: line.name, text: cut(`${line.name} ${JSON.stringify(line.attrs)}`) })
        return
      default: {
        const unreachable: never = line
        throw new Error(`unknown trace line ${JSON.stringify(unreachable)}`)
      }
    }
  }

  private send(line: SendLine): void {
    const message = line.msg as { readonly _tag?: unknown } | null
    const tag = typeof message === "object" && message !== null && typeof message._tag === "string" ? message._tag : "message"
    let type = this.typeIndex.get(tag)
    if (type === undefined) {
      type = this.types.length
      this.typeIndex.set(tag, type)
      this.types.push(tag)
    }
    const dropped = line.at === undefined
    this.pushArrow(line.id, {
      from: this.lane(line.from),
      to: this.lane(line.to),
      sendUs: line.t,
      endUs: line.at ?? line.t,
      type,
      fate: dropped ? MessageFate.dropped : MessageFate.delivered,
      copy: 0,
      text: cut(JSON.stringify(line.msg))
    })
  }

  private pushArrow(id: number, arrow: { from: number; to: number; sendUs: number; endUs: number; type: number; fate: number; copy: number; text: string }): void {
    const columns = this.messages
    const index = columns.id.length
    columns.id.push(id)
    columns.from.push(arrow.from)
    columns.to.push(arrow.to)
    columns.sendUs.push(arrow.sendUs)
    columns.endUs.push(arrow.endUs)
    columns.type.push(arrow.type)
    columns.fate.push(arrow.fate)
    columns.copy.push(arrow.copy)
    columns.text.push(arrow.text)
    const arrows = this.arrowsOf.get(id)
    if (arrows === undefined) this.arrowsOf.set(id, [index])
    else arrows.push(index)
  }

  private duplicate(id: number, timeUs: number, atUs: number): void {
    const original = this.arrowsOf.get(id)?.[0]
    if (original === undefined) return
    const columns = this.messages
    this.pushArrow(id, {
      from: columns.from[original]!,
      to: columns.to[original]!,
      sendUs: timeUs,
      endUs: atUs,
      type: columns.type[original]!,
      fate: MessageFate.delivered,
      copy: 1,
      text: columns.text[original]!
    })
  }

  /** The arrow of `id` a line at `timeUs` is about: the copy due then, else the first still in flight. */
  private arrowAt(id: number, timeUs: number): number | undefined {
    const arrows = this.arrowsOf.get(id) ?? []
    const columns = this.messages
    return arrows.find((index) => columns.endUs[index] === timeUs) ?? arrows.find((index) => columns.fate[index] === MessageFate.delivered)
  }

  private setFate(id: number, timeUs: number, fate: number, why: string): void {
    const index = this.arrowAt(id, timeUs)
    if (index === undefined) return
    const columns = this.messages
    // A message dropped at once already has its fate; only its reason is new.
    if (columns.fate[index] !== MessageFate.dropped || columns.endUs[index] !== columns.sendUs[index]) columns.endUs[index] = timeUs
    columns.fate[index] = fate
    columns.text[index] = `${why} · ${columns.text[index]}`
  }

  private deliver(id: number, timeUs: number): void {
    const arrows = this.arrowsOf.get(id) ?? []
    const index = arrows.find((candidate) => this.messages.fate[candidate] === MessageFate.held)
    if (index !== undefined) this.messages.endUs[index] = timeUs
  }

  private fault(line: FaultLine): void {
    const fault = line.fault
    const text = faultText(fault)
    switch (fault._tag) {
      case "Crash":
      case "Pause":
        this.openOutages.set(this.lane(fault.node), { kind: fault._tag === "Crash" ? "crash" : "pause", startUs: line.t, text })
        return
      case "Restart":
      case "Resume":
        return this.closeOutage(this.lane(fault.node), line.t)
      case "Partition":
        this.openNetworkFaults.push({ startUs: line.t, lanes: fault.groups.flat().map((node) => this.lane(node)), text })
        return
      case "PartitionOneWay":
        this.openNetworkFaults.push({ startUs: line.t, lanes: [...fault.from, ...fault.to].map((node) => this.lane(node)), text })
        return
      case "Clog":
        this.openNetworkFaults.push({ startUs: line.t, lanes: [this.lane(fault.from), this.lane(fault.to)], text, link: `${fault.from}>${fault.to}` })
        return
      case "Unclog":
        return this.closeNetworkFaults(line.t, (open) => open.link === `${fault.from}>${fault.to}`)
      case "Heal":
        return this.closeNetworkFaults(line.t, (open) => open.link === undefined)
      case "NetworkReset":
        return
      case "ClockOffset":
      case "ClockStep":
      case "ClockDrift":
      case "ClockReset":
        this.marks.push({ lane: this.lane(fault.node), timeUs: line.t, kind: "clock", name: fault._tag, text })
        return
      default: {
        const unreachable: never = fault
        throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
      }
    }
  }

  private closeOutage(lane: number, timeUs: number): void {
    const open = this.openOutages.get(lane)
    if (open === undefined) return
    this.openOutages.delete(lane)
    this.outages.push({ lane, ...open, endUs: timeUs })
  }

  private closeNetworkFaults(timeUs: number, matches: (open: { link?: string }) => boolean): void {
    for (let index = this.openNetworkFaults.length - 1; index >= 0; index--) {
      const open = this.openNetworkFaults[index]!
      if (!matches(open)) continue
      this.openNetworkFaults.splice(index, 1)
      this.networkFaults.push({ startUs: open.startUs, endUs: timeUs, lanes: open.lanes, text: open.text })
    }
  }

  finish(): TraceView {
    for (const lane of [...this.openOutages.keys()]) this.closeOutage(lane, this.endUs)
    this.closeNetworkFaults(this.endUs, () => true)
    return {
      lanes: this.lanes,
      types: this.types,
      messages: this.messages,
      outages: this.outages,
      networkFaults: this.networkFaults,
      marks: this.marks,
      endUs: this.endUs,
      livenessStartUs: this.livenessStartUs,
      run: this.run
    }
  }
}

/** A fault in words, for hover text and the summary. */
export const faultText = (fault: TraceFault): string => {
  switch (fault._tag) {
    case "Partition":
      return `partition ${fault.groups.map((group) => group.join(",")).join(" | ")}`
    case "PartitionOneWay":
      return `one-way partition ${fault.from.join(",")} → ${fault.to.join(",")}`
    case "Heal":
      return "heal"
    case "NetworkReset":
      return "network back to the scenario's own"
    case "Crash":
      return `crash ${fault.node}${fault.torn === undefined ? "" : ` (torn write: ${fault.torn.file} kept ${fault.torn.keptBytes} bytes)`}`
    case "Restart":
    case "Pause":
    case "Resume":
    case "ClockReset":
      return `${fault._tag.toLowerCase()} ${fault.node}`
    case "Clog":
    case "Unclog":
      return `${fault._tag.toLowerCase()} ${fault.from} → ${fault.to}`
    case "ClockOffset":
      return `clock offset ${fault.node} ${fault.offsetMs} ms`
    case "ClockStep":
      return `clock step ${fault.node} ${fault.deltaMs > 0 ? "+" : ""}${fault.deltaMs} ms`
    case "ClockDrift":
      return `clock drift ${fault.node} ${fault.drift}`
    default: {
      const unreachable: never = fault
      throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
    }
  }
}
