// Reading a quorum node's files back after a (re)start: each file is parsed and its shape checked,
// and a file that fails either is refused as damage (StorageCorruption), never skipped.
import { Effect } from "effect"
import { decodeText, Storage, StorageCorruption, type StorageError } from "../../env/index.ts"
import type { Recovered } from "./core.ts"
import type { KeyState } from "./messages.ts"
import { INCARNATION_FILE, type IncarnationFile, MEMBERSHIP_FILE, type MembershipFile, type PutsFile, type StoreFile } from "./state.ts"

/** What is wrong with a parsed value, or undefined when it has the shape asked for. */
type ShapeCheck = (value: unknown) => string | undefined

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const isCount = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0

const vectorClockProblem = (value: unknown, name: string): string | undefined =>
  isRecord(value) && Object.values(value).every(isCount) ? undefined : `${name} is not a vector clock (node ids to counts)`

const siblingProblem = (sibling: unknown, name: string): string | undefined => {
  if (!isRecord(sibling) || !isRecord(sibling.version) || !isRecord(sibling.value)) return `${name} is not a sibling (a version and a value)`
  const dot = sibling.version.dot
  if (!isRecord(dot) || typeof dot.node !== "string" || !isCount(dot.counter) || dot.counter === 0) return `${name} has no dot (a node id and a positive counter)`
  if (!("value" in sibling.value) || typeof sibling.value.timestampMs !== "number") return `${name} has no stored value (a value and a timestamp)`
  return vectorClockProblem(sibling.version.past, `${name}.version.past`)
}

/** Whether `value` is a key's state as `JSON.stringify` wrote it: a context and the siblings it covers. */
const keyStateProblem = (value: unknown, name: string): string | undefined => {
  if (!isRecord(value) || !Array.isArray(value.siblings)) return `${name} is not a key's state (a context and siblings)`
  const siblings: Array<unknown> = value.siblings
  return vectorClockProblem(value.context, `${name}.context`) ??
    siblings.map((sibling, index) => siblingProblem(sibling, `${name}.siblings[${index}]`)).find((problem) => problem !== undefined)
}

const incarnationProblem: ShapeCheck = (value) =>
  isRecord(value) && isCount(value.incarnation) && value.incarnation !== 0 ? undefined : "incarnation is not a positive integer"

const membershipProblem: ShapeCheck = (value) => {
  if (!isRecord(value) || !isCount(value.epoch)) return "epoch is not a non-negative integer"
  return Array.isArray(value.nodes) && value.nodes.every((node) => typeof node === "string") ? undefined : "nodes is not a list of node ids"
}

const storeProblem: ShapeCheck = (value) => {
  if (!isRecord(value)) return "not a key's store file (a set and recentPuts)"
  const setProblem = keyStateProblem(value.set, "set")
  if (setProblem !== undefined) return setProblem
  return recentPutsProblem(value)
}

/** A store file's and a puts file's `recentPuts`: a list of request ids. */
const recentPutsProblem = (value: Record<string, unknown>): string | undefined =>
  Array.isArray(value.recentPuts) && value.recentPuts.every((id) => typeof id === "string") ? undefined : "recentPuts is not a list of request ids"

const putsProblem: ShapeCheck = (value) => (isRecord(value) ? recentPutsProblem(value) : "recentPuts is not a list of request ids")

const hintsProblem: ShapeCheck = (value) => {
  if (!isRecord(value)) return "not a hints file (owner ids to key states)"
  for (const [owner, set] of Object.entries(value)) {
    const problem = keyStateProblem(set, `the hint for ${owner}`)
    if (problem !== undefined) return problem
  }
  return undefined
}

/**
 * The content of `file`, parsed and checked. Each file is one JSON value on one line, replaced whole
 * and synced (the storage contract never tears such a write), so a file that is not JSON, or not of
 * its kind's shape, was damaged after it was written: the node refuses to start on it rather than
 * forget what it held (an acknowledged value, or the incarnation that keeps request ids unique).
 */
const readChecked = (storage: Storage["Service"], file: string, check: ShapeCheck): Effect.Effect<unknown, StorageError | StorageCorruption> =>
  Effect.flatMap(storage.read(file), (bytes) => {
    const corrupt = (reason: string) => Effect.fail(new StorageCorruption({ file, line: 1, reason }))
    if (bytes === undefined) return corrupt("listed but cannot be read")
    let content: unknown
    try {
      content = JSON.parse(decodeText(bytes))
    } catch {
      return corrupt("not JSON")
    }
    const problem = check(content)
    return problem === undefined ? Effect.succeed(content) : corrupt(problem)
  })

/** The key a store or hints file's name encodes, or a StorageCorruption when the name encodes none. */
const keyOfName = (file: string, encoded: string): Effect.Effect<string, StorageCorruption> =>
  Effect.try({ try: () => decodeURIComponent(encoded), catch: () => new StorageCorruption({ file, line: 1, reason: "its name does not encode a key" }) })

/**
 * Reads back everything a node keeps on disk: the key states, hints and answered Puts by key, the adopted
 * membership and the last incarnation. Files of other names are not the node's and are left alone.
 */
export const readDisk: Effect.Effect<Recovered, StorageError | StorageCorruption, Storage> = Effect.gen(function*() {
  const storage = yield* Storage
  const store = new Map<string, StoreFile>()
  const hints = new Map<string, Map<string, KeyState>>()
  const puts = new Map<string, ReadonlyArray<string>>()
  let membership: MembershipFile | undefined
  let incarnation: number | undefined
  for (const file of yield* storage.list) {
    const storeName = /^store-(.*)\.json$/.exec(file)
    const hintsName = /^hints-(.*)\.json$/.exec(file)
    const putsName = /^puts-(.*)\.json$/.exec(file)
    if (storeName !== null) {
      const key = yield* keyOfName(file, storeName[1]!)
      store.set(key, (yield* readChecked(storage, file, storeProblem)) as StoreFile)
    } else if (hintsName !== null) {
      const key = yield* keyOfName(file, hintsName[1]!)
      const content = (yield* readChecked(storage, file, hintsProblem)) as Record<string, KeyState>
      hints.set(key, new Map(Object.entries(content)))
    } else if (putsName !== null) {
      const key = yield* keyOfName(file, putsName[1]!)
      puts.set(key, ((yield* readChecked(storage, file, putsProblem)) as PutsFile).recentPuts)
    } else if (file === MEMBERSHIP_FILE) {
      membership = (yield* readChecked(storage, file, membershipProblem)) as MembershipFile
    } else if (file === INCARNATION_FILE) {
      incarnation = ((yield* readChecked(storage, file, incarnationProblem)) as IncarnationFile).incarnation
    }
  }
  return { store, hints, puts, membership, incarnation } satisfies Recovered
})
