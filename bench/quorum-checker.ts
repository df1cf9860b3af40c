// The quorum store's checker on long histories: how its time grows with a key's chain of
// read-modify-writes, from histories written here (clients read a key's siblings, then write a
// value that supersedes them, three replicas storing each write), 10 keys at every length.
import { QuorumStoreChecker } from "../src/check/quorum-store.ts"

const KEYS = 10
const CLIENTS = 6
const REPLICAS = ["n1", "n2", "n3"]

/** What one length measured. */
export interface CheckerScaleRow {
  readonly operations: number
  /** CPU milliseconds of the checker's end-of-run judgement, where the checks over the whole history run. */
  readonly finishCpuMs: number
  readonly violations: number
}

/** A deterministic draw in [0, 1): the same history every run. */
const lcg = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

/** Feeds the checker a correct run of `operations` client operations and times its judgement. */
export const benchCheckerAt = (operations: number): CheckerScaleRow => {
  const random = lcg(1)
  const checker = new QuorumStoreChecker({ livenessBoundMs: 1000, ownersOf: () => REPLICAS, convergenceMs: 1000, lastWriterWins: false })
  const state = new Map<string, Array<string>>()
  // Each client alternates: a read of a key, then a write to it that supersedes what it read.
  const reading: Array<{ readonly key: string; readonly read: Array<string> } | undefined> = Array.from({ length: CLIENTS }, () => undefined)
  let timeUs = 0
  let written = 0
  const event = (name: string, attributes: Record<string, unknown>, node = "client") => checker.onEvent({ timeUs: (timeUs += 10), node, name, attributes })
  for (let operation = 0; operation < operations; operation++) {
    const client = Math.floor(random() * CLIENTS)
    const pending = reading[client]
    if (pending === undefined) {
      const key = `k${Math.floor(random() * KEYS)}`
      const values = [...(state.get(key) ?? [])]
      event("history", { process: client, type: "invoke", f: "read", key, value: null })
      event("history", { process: client, type: "ok", f: "read", key, value: values })
      reading[client] = { key, read: values }
      continue
    }
    const value = `v${written++}`
    event("history", { process: client, type: "invoke", f: "write", key: pending.key, value, supersedes: pending.read })
    const next = [...(state.get(pending.key) ?? []).filter((sibling) => !pending.read.includes(sibling)), value]
    state.set(pending.key, next)
    for (const node of REPLICAS) event("store", { key: pending.key, values: next, digest: next.length }, node)
    event("history", { process: client, type: "ok", f: "write", key: pending.key, value })
    reading[client] = undefined
  }
  const cpu = process.cpuUsage()
  checker.finish({ timeUs: timeUs + 10_000_000, up: REPLICAS })
  const used = process.cpuUsage(cpu)
  return { operations, finishCpuMs: (used.user + used.system) / 1000, violations: checker.violations.length }
}

/** The lengths `npm run bench` measures: each four times the last, so a linear checker's time grows fourfold. */
export const CHECKER_LENGTHS = [10_000, 40_000, 160_000]

export const benchCheckerScale = (): ReadonlyArray<CheckerScaleRow> => {
  benchCheckerAt(5_000)
  return CHECKER_LENGTHS.map((operations) => benchCheckerAt(operations))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of benchCheckerScale()) console.log(`${row.operations} operations: ${row.finishCpuMs.toFixed(0)} ms CPU, ${row.violations} violations`)
}
