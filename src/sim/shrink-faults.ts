// Shrinking a fault schedule: faults grouped into units that only make sense together (a crash and its restart), whole kinds removed at once, then delta debugging over the units.
import type { Fault, ScheduledFault } from "./scenario.ts"

/**
 * Indices into a schedule of faults that go together: a crash and the restart of the same node
 * that follows it, a pause and its resume, a partition and the heal after it, a clog and its
 * unclog. Removing a crash but keeping its restart would leave a line that does nothing, and
 * removing them one at a time would spend two runs where one does. A fault with no partner (a
 * clock step, a restart the scenario wrote on its own) is a unit by itself. Units are ordered by
 * their first fault.
 */
export const faultUnits = (scheduled: ReadonlyArray<ScheduledFault>): Array<ReadonlyArray<number>> => {
  const units: Array<Array<number>> = []
  const paired = new Set<number>()
  for (let index = 0; index < scheduled.length; index++) {
    if (paired.has(index)) continue
    const unit = [index]
    const end = endOf(scheduled[index]!.fault)
    if (end !== undefined) {
      const partner = scheduled.findIndex((entry, other) => other > index && !paired.has(other) && end(entry.fault))
      if (partner >= 0) {
        unit.push(partner)
        paired.add(partner)
      }
    }
    units.push(unit)
  }
  return units
}

/** For a fault that a later one undoes, a test for that later one; undefined for any other fault. */
const endOf = (fault: Fault): ((candidate: Fault) => boolean) | undefined => {
  switch (fault._tag) {
    case "Crash":
      return (candidate) => candidate._tag === "Restart" && candidate.node === fault.node
    case "Pause":
      return (candidate) => candidate._tag === "Resume" && candidate.node === fault.node
    case "Partition":
    case "PartitionOneWay":
      return (candidate) => candidate._tag === "Heal"
    case "Clog":
      return (candidate) => candidate._tag === "Unclog" && candidate.from === fault.from && candidate.to === fault.to
    case "Heal":
    case "Restart":
    case "Resume":
    case "Unclog":
    case "ClockOffset":
    case "ClockStep":
    case "ClockDrift":
      return undefined
    default: {
      const unreachable: never = fault
      throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
    }
  }
}

/** The kind of a unit, by its first fault, in words: "crash", "partition" and so on. */
export const unitKind = (scheduled: ReadonlyArray<ScheduledFault>, unit: ReadonlyArray<number>): string => {
  const fault = scheduled[unit[0]!]!.fault
  // A bounce is a crash of a few milliseconds; telling it apart from a crash of seconds lets a
  // storm of bounces go in one run while the one long crash that matters stays, or the other way.
  if (fault._tag === "Crash" && unit.length === 2 && scheduled[unit[1]!]!.atMs - scheduled[unit[0]!]!.atMs <= BOUNCE_MS_MAX) return "bounce"
  return fault._tag === "PartitionOneWay" ? "partition" : fault._tag.replace(/[A-Z]/g, (letter, at: number) => (at === 0 ? letter : ` ${letter}`)).toLowerCase()
}

/** The longest crash counted as a bounce (the swarm draws bounces of 1-50 ms). */
const BOUNCE_MS_MAX = 50

/** The schedule without the faults of `units` at the positions in `drop`. */
export const withoutUnits = (
  scheduled: ReadonlyArray<ScheduledFault>,
  units: ReadonlyArray<ReadonlyArray<number>>,
  drop: ReadonlySet<number>
): Array<ScheduledFault> => {
  const gone = new Set<number>()
  for (const position of drop) for (const index of units[position]!) gone.add(index)
  return scheduled.filter((_, index) => !gone.has(index))
}

/** Tries a smaller schedule: true when it was kept (it still fails the same way), false otherwise or when out of runs. */
export type TrySchedule = (scheduled: Array<ScheduledFault>, description: string) => boolean

/** What fault shrinking works on: the schedule as it is now, whether runs are left, and a way to try a smaller one. */
export interface FaultShrinking {
  readonly current: () => ReadonlyArray<ScheduledFault>
  readonly runsLeft: () => boolean
  readonly attempt: TrySchedule
}

/**
 * Removes every unit of one kind at once (all bounces, all clock steps), for each kind while
 * there are at least two kinds, the most numerous first. A storm of hundreds of bounces goes in one run this way, where
 * delta debugging would take dozens. Returns whether anything was removed.
 */
export const removeKinds = (shrinking: FaultShrinking): boolean => {
  let removed = false
  const kindsOf = (scheduled: ReadonlyArray<ScheduledFault>) => {
    const units = faultUnits(scheduled)
    return { units, kinds: units.map((unit) => unitKind(scheduled, unit)) }
  }
  // The most numerous kind first: it is the biggest cut, and once it is gone the rest may no
  // longer be needed as a group either.
  const counts = new Map<string, number>()
  for (const kind of kindsOf(shrinking.current()).kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1)
  for (const [kind] of [...counts].sort((left, right) => right[1] - left[1])) {
    const scheduled = shrinking.current()
    const { units, kinds } = kindsOf(scheduled)
    if (new Set(kinds).size < 2 || !kinds.includes(kind) || !shrinking.runsLeft()) continue
    const drop = new Set(kinds.flatMap((unitKindName, position) => (unitKindName === kind ? [position] : [])))
    const remaining = withoutUnits(scheduled, units, drop)
    if (shrinking.attempt(remaining, `every ${kind} removed, ${remaining.length} faults`)) removed = true
  }
  return removed
}

/**
 * Zeller's ddmin, complements only, over the groups `groupsOf` makes of the schedule: remove half
 * of them, then smaller chunks (`halve` says how much smaller), moving on at one size only when no
 * chunk of it can go. A large irrelevant block goes in a few runs; only the groups that matter
 * cost a run each. Returns whether anything was removed.
 */
const deltaDebug = (
  shrinking: FaultShrinking,
  groupsOf: (scheduled: ReadonlyArray<ScheduledFault>) => ReadonlyArray<ReadonlyArray<number>>,
  halve: (chunk: number) => number
): boolean => {
  let removed = false
  let chunk = Math.ceil(groupsOf(shrinking.current()).length / 2)
  while (chunk >= 1 && shrinking.runsLeft()) {
    let removedAny = false
    for (let start = 0; shrinking.runsLeft(); ) {
      const scheduled = shrinking.current()
      const groups = groupsOf(scheduled)
      if (start >= groups.length) break
      const drop = new Set(groups.map((_, position) => position).filter((position) => position >= start && position < start + chunk))
      const remaining = withoutUnits(scheduled, groups, drop)
      if (shrinking.attempt(remaining, `${remaining.length} faults`)) {
        removedAny = true
        removed = true
      } else {
        start += chunk
      }
    }
    if (!removedAny) chunk = halve(chunk)
  }
  return removed
}

/**
 * Delta debugging over single faults: unlike units, a restart may go without its crash (the node
 * then stays down), which is often the smaller repro. Returns whether anything was removed.
 */
export const removeSingles = (shrinking: FaultShrinking): boolean =>
  deltaDebug(shrinking, (scheduled) => scheduled.map((_, index) => [index]), (chunk) => Math.floor(chunk / 2))

/**
 * Delta debugging over the units, then each remaining fault tried away on its own, the latest
 * first. Returns whether anything was removed.
 */
export const removeUnits = (shrinking: FaultShrinking): boolean => {
  let removed = deltaDebug(shrinking, faultUnits, (chunk) => (chunk === 1 ? 0 : Math.ceil(chunk / 2)))
  // Then single faults, whatever unit they belong to: a crash never restarted, a restart whose
  // crash went, a partition never healed before the phase ends. Each is one line fewer, and some
  // failures need half of a pair.
  for (let index = shrinking.current().length - 1; index >= 0 && shrinking.runsLeft(); index--) {
    const scheduled = shrinking.current()
    if (index >= scheduled.length) continue
    const remaining = scheduled.filter((_, other) => other !== index)
    if (shrinking.attempt(remaining, `${remaining.length} faults (one ${scheduled[index]!.fault._tag.toLowerCase()} out)`)) removed = true
  }
  return removed
}

/**
 * Removes the faults furthest from the failure: a run stopped where it fails ends at its violation,
 * so the faults before it that matter most are the last ones, and the earliest are the likeliest
 * to be history that another path to the same failure does without. Bisects over how many of the
 * earliest faults go (all of them first), keeping each cut that still fails, in about log2(faults)
 * runs. Delta debugging only ever removes one chunk at a time, so it never tries keeping the last
 * eighth alone. Returns whether anything was removed.
 */
export const removeEarliest = (shrinking: FaultShrinking): boolean => {
  const total = shrinking.current().length
  // Keeping the latest `enough` faults fails as the original did; keeping `tooFew` does not (-1: untried).
  let tooFew = -1
  let enough = total
  while (enough - tooFew > 1 && shrinking.runsLeft()) {
    const keep = tooFew < 0 ? 0 : Math.floor((tooFew + enough) / 2)
    const scheduled = shrinking.current()
    const remaining = scheduled.slice(scheduled.length - keep)
    if (shrinking.attempt(remaining, `${remaining.length} faults (the earliest ${scheduled.length - keep} out)`)) {
      // A kept cut may stop the run earlier, dropping faults from the end too: count from what is left.
      enough = shrinking.current().length
      tooFew = Math.min(tooFew, enough - 1)
    } else {
      tooFew = keep
    }
  }
  return enough < total
}
