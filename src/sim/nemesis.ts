// The nemesis: turns random fault rates into a fixed schedule drawn from the seed, and applies faults to a simulation.
import type { RandomStream } from "./random-streams.ts"
import type { Fault, RandomFaults, ScheduledFault } from "./scenario.ts"
import type { Simulation } from "./simulation.ts"

/**
 * Draws the random faults of a safety phase of `durationMs` as a fixed schedule. Crashes and
 * pauses never take more than `maxDown` servers down at once; partitions do not overlap (each one
 * is healed before the next). A stall clogs both directions of a link between two servers, for
 * longer than a clog usually lasts, and unclogs them together, so the link delivers its backlog in
 * one burst. A bounce crashes a server and restarts it within milliseconds. Every fault ends before
 * the safety phase does.
 */
export const planRandomFaults = (
  random: RandomFaults,
  servers: ReadonlyArray<string>,
  durationMs: number,
  stream: RandomStream
): Array<ScheduledFault> => {
  const faults: Array<ScheduledFault> = []
  const arrivals = (ratePerSecond: number): Array<number> => {
    const times: Array<number> = []
    if (ratePerSecond <= 0) return times
    let time = stream.exponential(1000 / ratePerSecond)
    while (time < durationMs) {
      times.push(time)
      time += stream.exponential(1000 / ratePerSecond)
    }
    return times
  }
  const span = (range: readonly [number, number]): number => stream.uniform(range[0], Math.max(range[0], range[1]))
  const clamp = (time: number): number => Math.min(Math.round(time), Math.max(0, durationMs - 1))

  let partitionFree = 0
  for (const time of arrivals(random.partitions.ratePerSecond)) {
    if (time < partitionFree || servers.length < 2) continue
    const end = time + span(random.partitions.durationMs)
    const shuffled = stream.shuffle(servers)
    // Isolate one node half of the time, otherwise split off a random minority.
    const cut = stream.chance(0.5) ? 1 : 1 + stream.nextInt(Math.max(1, Math.floor(servers.length / 2)))
    const minority = shuffled.slice(0, cut).sort()
    const majority = shuffled.slice(cut).sort()
    const fault: Fault = stream.chance(random.partitions.oneWayRate)
      ? stream.chance(0.5)
        ? { _tag: "PartitionOneWay", from: minority, to: majority }
        : { _tag: "PartitionOneWay", from: majority, to: minority }
      : { _tag: "Partition", groups: [minority, majority] }
    faults.push({ atMs: clamp(time), fault }, { atMs: clamp(end), fault: { _tag: "Heal" } })
    partitionFree = end + 1
  }

  const down: Array<{ node: string; from: number; until: number }> = []
  const outages = [
    ...arrivals(random.crashes.ratePerSecond).map((time) => ({ time, kind: "crash" as const })),
    ...arrivals(random.pauses.ratePerSecond).map((time) => ({ time, kind: "pause" as const }))
  ].sort((left, right) => left.time - right.time)
  /**
   * Picks a server to take down at `time` for a span of `range`, if maxDown allows one. Bounces
   * are planned after every crash and pause, so outages that start later may overlap one too.
   */
  const takeDown = (time: number, range: readonly [number, number]): { node: string; end: number } | undefined => {
    const active = down.filter((entry) => entry.until > time && entry.from <= time + Math.max(range[0], range[1]))
    if (active.length >= random.maxDown) return undefined
    const candidates = servers.filter((node) => !active.some((entry) => entry.node === node))
    if (candidates.length === 0) return undefined
    const node = stream.pick(candidates)
    const end = time + span(range)
    down.push({ node, from: time, until: end + 1 })
    return { node, end }
  }
  for (const outage of outages) {
    const taken = takeDown(outage.time, outage.kind === "crash" ? random.crashes.durationMs : random.pauses.durationMs)
    if (taken === undefined) continue
    const { node, end } = taken
    if (outage.kind === "crash") {
      const torn = stream.chance(random.crashes.tornRate)
      faults.push({ atMs: clamp(outage.time), fault: { _tag: "Crash", node, torn } })
      faults.push({ atMs: clamp(end), fault: { _tag: "Restart", node } })
    } else {
      faults.push({ atMs: clamp(outage.time), fault: { _tag: "Pause", node } })
      faults.push({ atMs: clamp(end), fault: { _tag: "Resume", node } })
    }
  }

  for (const time of arrivals(random.clogs.ratePerSecond)) {
    if (servers.length < 2) break
    const [from, to] = stream.shuffle(servers) as [string, string]
    faults.push({ atMs: clamp(time), fault: { _tag: "Clog", from, to } })
    faults.push({ atMs: clamp(time + span(random.clogs.durationMs)), fault: { _tag: "Unclog", from, to } })
  }
  for (const time of arrivals(random.clockSteps.ratePerSecond)) {
    const ms = Math.round(stream.uniform(-random.clockSteps.maxMs, random.clockSteps.maxMs))
    faults.push({ atMs: clamp(time), fault: { _tag: "ClockStep", node: stream.pick(servers), ms } })
  }
  for (const time of arrivals(random.clockDrifts.ratePerSecond)) {
    const rate = stream.uniform(-random.clockDrifts.maxRate, random.clockDrifts.maxRate)
    faults.push({ atMs: clamp(time), fault: { _tag: "ClockDrift", node: stream.pick(servers), rate } })
  }
  // Stalls come last, so that a scenario without them draws every other fault as it always did.
  for (const time of arrivals(random.stalls.ratePerSecond)) {
    if (servers.length < 2) break
    const [left, right] = stream.shuffle(servers) as [string, string]
    const end = clamp(time + span(random.stalls.durationMs))
    faults.push({ atMs: clamp(time), fault: { _tag: "Clog", from: left, to: right } })
    faults.push({ atMs: clamp(time), fault: { _tag: "Clog", from: right, to: left } })
    faults.push({ atMs: end, fault: { _tag: "Unclog", from: left, to: right } })
    faults.push({ atMs: end, fault: { _tag: "Unclog", from: right, to: left } })
  }
  // Bounces come after stalls for the same reason. A bounce is a process kill, not a power cut, so
  // it tears no write; it counts against maxDown like any crash while the server is down.
  for (const time of arrivals(random.bounces.ratePerSecond)) {
    const taken = takeDown(time, random.bounces.durationMs)
    if (taken === undefined) continue
    faults.push({ atMs: clamp(time), fault: { _tag: "Crash", node: taken.node, torn: false } })
    faults.push({ atMs: clamp(taken.end), fault: { _tag: "Restart", node: taken.node } })
  }
  // A stable sort keeps each fault's end after its start when both land on the same millisecond.
  return faults.sort((left, right) => left.atMs - right.atMs)
}

/** Applies one fault to the simulation now. */
export const applyFault = (simulation: Simulation, fault: Fault): void => {
  switch (fault._tag) {
    case "Partition":
      return simulation.partition(fault.groups)
    case "PartitionOneWay":
      return simulation.partitionOneWay(fault.from, fault.to)
    case "Heal":
      return simulation.heal()
    case "Crash":
      return simulation.crash(fault.node, { tornWrite: fault.torn })
    case "Restart":
      return simulation.restart(fault.node)
    case "Pause":
      return simulation.pause(fault.node)
    case "Resume":
      return simulation.resume(fault.node)
    case "ClockOffset":
      return simulation.setClockOffset(fault.node, fault.ms)
    case "ClockStep":
      return simulation.stepClock(fault.node, fault.ms)
    case "ClockDrift":
      return simulation.setClockDrift(fault.node, fault.rate)
    case "Clog":
      return simulation.clog(fault.from, fault.to)
    case "Unclog":
      return simulation.unclog(fault.from, fault.to)
    default: {
      const unreachable: never = fault
      throw new Error(`unknown fault ${JSON.stringify(unreachable)}`)
    }
  }
}

/** Ends every fault, for the liveness phase: heals the network (and returns a drawn one to the scenario's own), resumes and restarts nodes, resets clocks. */
export const healEverything = (simulation: Simulation): void => {
  simulation.heal()
  simulation.unclogAll()
  simulation.resetNetwork()
  for (const node of simulation.servers) {
    if (simulation.status(node) === "paused") simulation.resume(node)
    if (simulation.status(node) === "crashed") simulation.restart(node)
    simulation.resetClock(node)
  }
}
