// Checks a quorum store run from what was observed: what clients were told (their history, with the
// values each write named as read) and what replicas stored (`store` and `standIn` events). It never
// asks the store's versions what happened before what: causality is what clients saw.
import type { JsonValue } from "../env/json.ts"
import { Ancestry, type ValueSet } from "./ancestry.ts"
import type { Checker, FinalState, ProtocolEvent, Violation } from "./checker.ts"
import { boundedReport, KvHistoryRecorder, type Report } from "./kv-history.ts"

/** Options of {@link QuorumStoreChecker}. */
export interface QuorumStoreCheckerOptions {
  /** After the faults heal, some client operation must succeed within this many milliseconds. */
  readonly livenessBoundMs: number
  /** The replicas of each key that must converge: its owners. */
  readonly ownersOf: (key: string) => ReadonlyArray<string>
  /** Handoff and anti-entropy need this much healed time to bring every owner up to date. */
  readonly convergenceMs: number
  /** Last-writer-wins drops concurrent writes by design: lost writes are then only noted. */
  readonly lastWriterWins: boolean
}

interface Write {
  readonly key: string
  readonly invokeUs: number
  okUs: number | undefined
  /** The values (as text) the writer had read, which this write supersedes. */
  readonly supersedes: ReadonlyArray<string>
}

/** An acknowledged write and its value (as text). */
interface Acknowledged {
  readonly value: string
  readonly write: Write
}

interface Read {
  readonly key: string
  readonly invokeUs: number
  readonly okUs: number
  readonly values: ReadonlyArray<JsonValue>
  /** `values` as text, made once: the checks compare texts many times over. */
  readonly valueTexts: ReadonlyArray<string>
}

/** Where a value was first seen under a key: a replica's `store` event or a client's read. */
interface Sighting {
  readonly where: string
  readonly timeUs: number
}

const text = (value: JsonValue): string => JSON.stringify(value)

/** The first index below `length` whose value in the non-decreasing `sorted` is at least `bound`, or `length`. */
const firstAtOrAfter = (sorted: Float64Array, length: number, bound: number): number => {
  let low = 0
  let high = length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (sorted[middle]! >= bound) high = middle
    else low = middle + 1
  }
  return low
}

/**
 * Rules, after Dynamo and Jepsen's findings on its descendants:
 * - `no-lost-write`: every acknowledged write is in some replica's final state, or superseded by a
 *   write that causally follows it (a chain of writes each naming the one before as read).
 * - `siblings`: siblings are exactly concurrent writes: no read and no replica's final state holds
 *   a value together with one that causally follows it.
 * - `stale-read`: a read that starts after a write was acknowledged returns it or a value that
 *   follows it, unless a stand-in held a copy of the key meanwhile or the membership changed (a
 *   sloppy quorum, and ranges on the move, give no such promise). It holds when R + W > N; the lesson scenario shows it fail when not.
 * - `convergence`: once faults heal and handoff and anti-entropy have run, every up owner of a key
 *   stores the same versions (keys written too close to the end are not judged).
 * - `liveness`: once faults heal, a client operation succeeds within the bound.
 * - `no-foreign-value`: a key holds only values written to it. Every value a replica stores for a
 *   key, and every value a read of it returns, was invoked as a write of that key (keys start
 *   empty). A value a client wrote to another key only came from a mix-up of keys (a reply taken
 *   for the wrong request, read repair writing one key's merge to another), which `no-lost-write`
 *   sees only at the end of the run, if at all; this check names the first store or read of it. A
 *   value no recorded client wrote is not judged but noted: a real cluster takes writes from
 *   outside the recorded workload (`faultline client put`), while in the simulator every writer is
 *   a recorded client.
 */
export class QuorumStoreChecker implements Checker {
  readonly checks = ["no-lost-write", "siblings", "stale-read", "no-foreign-value", "convergence", "liveness"]
  readonly livenessChecks = ["convergence", "liveness"]
  readonly violations: Array<Violation> = []
  readonly notes: Array<string> = []
  private readonly recorder: KvHistoryRecorder
  private readonly report: Report
  private readonly writes = new Map<string, Write>()
  private readonly reads: Array<Read> = []
  private readonly pendingReads = new Map<number, { key: string; invokeUs: number }>()
  /** Node and key to the values it last made durable. */
  private readonly stored = new Map<string, Map<string, { values: ReadonlyArray<JsonValue>; digest: number }>>()
  private readonly standIns = new Map<string, Array<number>>()
  /** When nodes first and last adopted a membership change: ownership moves, so quorums need not overlap meanwhile. */
  private membershipChanges: { firstUs: number; lastUs: number } | undefined
  /** Value (as text) to the keys clients invoked writes of it to. */
  private readonly keysWritten = new Map<string, Set<string>>()
  /** Key to each value (as text) seen under it, with where and when it was seen first. */
  private readonly sightings = new Map<string, Map<string, Sighting>>()

  constructor(private readonly options: QuorumStoreCheckerOptions) {
    this.recorder = new KvHistoryRecorder(options.livenessBoundMs)
    this.report = boundedReport(this.violations)
  }

  get minimumLivenessMs(): number {
    return Math.max(this.options.livenessBoundMs, this.options.convergenceMs)
  }

  get history() {
    return this.recorder.history
  }

  onLivenessStart(timeUs: number): void {
    this.recorder.onLivenessStart(timeUs)
  }

  onEvent(event: ProtocolEvent): void {
    switch (event.name) {
      case "history":
        return this.onHistory(event)
      case "store": {
        const { key, values, digest } = event.attributes as { key: string; values: Array<JsonValue>; digest: number }
        const byKey = this.stored.get(event.node) ?? new Map()
        byKey.set(key, { values, digest })
        this.stored.set(event.node, byKey)
        this.sight(key, values, `${event.node} stored`, event.timeUs)
        return
      }
      case "membership":
        this.membershipChanges = {
          firstUs: Math.min(event.timeUs, this.membershipChanges?.firstUs ?? event.timeUs),
          lastUs: Math.max(event.timeUs, this.membershipChanges?.lastUs ?? event.timeUs)
        }
        return
      case "standIn": {
        const key = event.attributes["key"] as string
        const times = this.standIns.get(key)
        if (times === undefined) this.standIns.set(key, [event.timeUs])
        else times.push(event.timeUs)
        return
      }
      default:
        return
    }
  }

  private onHistory(event: ProtocolEvent): void {
    this.recorder.record(event)
    const report = event.attributes as { process: number; type: string; f: string; key: string; value: JsonValue; supersedes?: Array<JsonValue> }
    if (report.f === "write" && report.type === "invoke") {
      const valueText = text(report.value)
      this.writes.set(valueText, { key: report.key, invokeUs: event.timeUs, okUs: undefined, supersedes: (report.supersedes ?? []).map(text) })
      this.keysWritten.set(valueText, (this.keysWritten.get(valueText) ?? new Set<string>()).add(report.key))
    } else if (report.f === "write" && report.type === "ok") {
      const write = this.writes.get(text(report.value))
      if (write !== undefined) write.okUs = event.timeUs
    } else if (report.f === "read" && report.type === "invoke") {
      this.pendingReads.set(report.process, { key: report.key, invokeUs: event.timeUs })
    } else if (report.f === "read") {
      const pending = this.pendingReads.get(report.process)
      this.pendingReads.delete(report.process)
      if (pending !== undefined && report.type === "ok") {
        const values = report.value as Array<JsonValue>
        this.reads.push({ key: pending.key, invokeUs: pending.invokeUs, okUs: event.timeUs, values, valueTexts: values.map(text) })
        this.sight(pending.key, report.value as Array<JsonValue>, `a read by client process ${report.process} returned`, event.timeUs)
      }
    }
  }

  /** Keeps the first sighting of each of `values` under `key`; judged at the end, once every write is known. */
  private sight(key: string, values: ReadonlyArray<JsonValue>, where: string, timeUs: number): void {
    let byValue = this.sightings.get(key)
    if (byValue === undefined) this.sightings.set(key, (byValue = new Map()))
    for (const value of values) {
      const valueText = text(value)
      if (!byValue.has(valueText)) byValue.set(valueText, { where, timeUs })
    }
  }

  finish(final: FinalState): void {
    this.recorder.checkLiveness(final, this.report, (message) => this.notes.push(message))
    const acknowledged = this.acknowledgedByKey()
    // Each key's acknowledged writes are numbered together, in the order they were invoked, so
    // that a read's first missing write is a search of one stretch of numbers.
    const layout = [...acknowledged.values()].flatMap((writes) => writes.map((entry) => entry.value))
    const ancestry = new Ancestry((value) => this.writes.get(value)?.supersedes, layout, this.writes.keys())
    this.checkLostWrites(final, ancestry)
    this.checkSiblings(final, ancestry)
    this.checkStaleReads(acknowledged, ancestry)
    this.checkForeignValues()
    if (this.recorder.livenessStarted) this.checkConvergence(final)
  }

  /** Every value (as text) some replica holds for `key` at the end. */
  private finalValues(key: string): Array<string> {
    const values: Array<string> = []
    for (const byKey of this.stored.values()) for (const value of byKey.get(key)?.values ?? []) values.push(text(value))
    return values
  }

  /** Each key's acknowledged writes, in the order they were invoked. */
  private acknowledgedByKey(): Map<string, Array<Acknowledged>> {
    const byKey = new Map<string, Array<Acknowledged>>()
    for (const [value, write] of this.writes) {
      if (write.okUs === undefined) continue
      const writes = byKey.get(write.key)
      if (writes === undefined) byKey.set(write.key, [{ value, write }])
      else writes.push({ value, write })
    }
    return byKey
  }

  private checkLostWrites(final: FinalState, ancestry: Ancestry): void {
    let lost = 0
    const finalByKey = new Map<string, ValueSet>()
    for (const [value, write] of this.writes) {
      if (write.okUs === undefined) continue
      let finalValues = finalByKey.get(write.key)
      if (finalValues === undefined) finalByKey.set(write.key, (finalValues = ancestry.cover(this.finalValues(write.key))))
      // In some replica at the end, or superseded by a value that is.
      if (ancestry.has(finalValues, value)) continue
      lost++
      if (this.options.lastWriterWins) continue
      this.report("no-lost-write", `key ${write.key}: the write of ${value}, acknowledged at ${write.okUs / 1000} ms, is in no replica and no later write follows it`, final.timeUs)
    }
    if (this.options.lastWriterWins && lost > 0) this.notes.push(`no-lost-write: last-writer-wins dropped ${lost} acknowledged writes, as it may`)
  }

  private checkSiblings(final: FinalState, ancestry: Ancestry): void {
    const judge = (values: ReadonlyArray<string>, where: () => string, timeUs: number) => {
      for (const left of values) {
        const follower = values.find((right) => ancestry.follows(right, left))
        if (follower !== undefined) {
          this.report("siblings", `${where()} holds ${left} beside ${follower}, whose write followed it`, timeUs)
          return
        }
      }
    }
    for (const read of this.reads) judge(read.valueTexts, () => `a read of ${read.key} at ${read.okUs / 1000} ms`, read.okUs)
    for (const [node, byKey] of this.stored) for (const [key, { values }] of byKey) judge(values.map(text), () => `${node}'s final state of ${key}`, final.timeUs)
  }

  /**
   * A read misses a write acknowledged before it started when it returns neither the write's value
   * nor a value that follows it; of several, it names the first invoked. Each key's acknowledged
   * writes are numbered in the order they were invoked, so the writes a read returns or follows
   * are a set of those numbers, and the first missing one is a search that skips every stretch
   * the read covers whole, stopping where every write left was acknowledged after it started.
   */
  private checkStaleReads(acknowledged: ReadonlyMap<string, ReadonlyArray<Acknowledged>>, ancestry: Ancestry): void {
    const byKey = new Map<string, { readonly first: number; readonly writes: ReadonlyArray<Acknowledged>; readonly earliestOkFrom: Float64Array }>()
    for (const [key, writes] of acknowledged) {
      // The earliest acknowledgement among each write and those invoked after it.
      const earliestOkFrom = new Float64Array(writes.length + 1).fill(Number.POSITIVE_INFINITY)
      for (let index = writes.length - 1; index >= 0; index--) earliestOkFrom[index] = Math.min(writes[index]!.write.okUs!, earliestOkFrom[index + 1]!)
      byKey.set(key, { first: ancestry.numberOf(writes[0]!.value)!, writes, earliestOkFrom })
    }
    for (const read of this.reads) {
      const key = byKey.get(read.key)
      if (key === undefined) continue
      const standIns = this.standIns.get(read.key) ?? []
      const covered = ancestry.cover(read.valueTexts)
      // Past `end`, every write was acknowledged after the read started.
      const end = key.first + firstAtOrAfter(key.earliestOkFrom, key.writes.length, read.invokeUs)
      let missed: Acknowledged | undefined
      for (let from = key.first; missed === undefined; ) {
        const number = ancestry.firstMissing(covered, from, end)
        if (number < 0) break
        const entry = key.writes[number - key.first]!
        const { write } = entry
        from = number + 1
        if (write.okUs! >= read.invokeUs) continue
        if (standIns.some((timeUs) => timeUs >= write.invokeUs && timeUs <= read.okUs) || this.moving(write, read)) continue
        missed = entry
      }
      if (missed === undefined) continue
      this.report(
        "stale-read",
        `key ${read.key}: a read from ${read.invokeUs / 1000} ms returned ${text(read.values as JsonValue)}, ` +
          `missing the write of ${missed.value} acknowledged at ${missed.write.okUs! / 1000} ms`,
        read.okUs
      )
    }
  }

  /** Reports, for each key, the first sighting of a value written to other keys only. */
  private checkForeignValues(): void {
    let unrecorded = 0
    for (const [key, byValue] of this.sightings) {
      let first: { value: string; sighting: Sighting; keys: ReadonlySet<string> } | undefined
      for (const [value, sighting] of byValue) {
        const keys = this.keysWritten.get(value)
        if (keys === undefined) unrecorded++
        else if (!keys.has(key) && (first === undefined || sighting.timeUs < first.sighting.timeUs)) first = { value, sighting, keys }
      }
      if (first === undefined) continue
      const origin = [...first.keys].sort().join(", ")
      this.report(
        "no-foreign-value",
        `key ${key}: ${first.sighting.where} ${first.value} at ${first.sighting.timeUs / 1000} ms, a value written to ${origin}, never to ${key}`,
        first.sighting.timeUs
      )
    }
    if (unrecorded > 0) this.notes.push(`no-foreign-value: ${unrecorded} values no recorded client wrote were not judged (writes made outside the recorded workload)`)
  }

  /**
   * Whether ownership may have been on the move between a write and a read: nodes adopt a change
   * at different times (one cut off adopts it late), so from the first adoption of any change to
   * the last, the reader's owners and the writer's may differ.
   */
  private moving(write: Write, read: Read): boolean {
    const changes = this.membershipChanges
    return changes !== undefined && read.okUs >= changes.firstUs && write.invokeUs <= changes.lastUs
  }

  private checkConvergence(final: FinalState): void {
    const quietSinceUs = final.timeUs - this.options.convergenceMs * 1000
    const lastInvokeUs = new Map<string, number>()
    for (const write of this.writes.values()) lastInvokeUs.set(write.key, Math.max(write.invokeUs, lastInvokeUs.get(write.key) ?? write.invokeUs))
    let unjudged = 0
    for (const key of [...lastInvokeUs.keys()].sort()) {
      if (lastInvokeUs.get(key)! > quietSinceUs) {
        unjudged++
        continue
      }
      const owners = this.options.ownersOf(key).filter((node) => final.up.includes(node))
      const states = owners.map((node) => ({ node, state: this.stored.get(node)?.get(key) }))
      const first = states[0]
      const differs = states.find((other) => other.state?.digest !== first?.state?.digest)
      if (first !== undefined && differs !== undefined) {
        const show = (entry: typeof first) => `${entry.node} ${entry.state === undefined ? "nothing" : text(entry.state.values as JsonValue)}`
        this.report("convergence", `key ${key}: replicas differ after healing: ${show(first)}, ${show(differs)}`, final.timeUs)
      }
    }
    if (unjudged > 0) this.notes.push(`convergence: ${unjudged} keys written in the last ${this.options.convergenceMs} ms were not judged`)
  }
}
