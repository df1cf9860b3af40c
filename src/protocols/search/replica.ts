// The synchronous core of one shard replica: which writes are new, where each sits in the log, and the index they build.
import { type IndexOptions, ShardIndex } from "./index-store.ts"
import type { LogEntry } from "./shard-log.ts"

/** What a write means for a replica: append it to the log, or acknowledge what the log already holds. */
export type WriteDecision =
  | { readonly _tag: "Append"; readonly entry: LogEntry }
  | { readonly _tag: "AlreadyLogged"; readonly position: number }

/**
 * One shard as one replica holds it. Every entry goes through `apply` in log order, live and on
 * replay, so the index is the same graph after a restart as before it.
 */
export class ShardReplica {
  readonly index: ShardIndex
  /** Entries in the log (what `apply` has seen); the next entry's position. */
  entries = 0
  /** Entries known synced: a new owner copying this shard is sent no further, so what it copied cannot vanish in a crash. */
  synced = 0
  /** The log's entries in order, kept so a new owner can copy them (the index alone cannot give its vectors back). */
  readonly log: Array<LogEntry> = []
  /** The log position of each id's latest entry. */
  private readonly positions = new Map<number, number>()
  /** Ids deleted: a late or retried insert of one is acknowledged and not applied (ids are never reused). */
  private readonly tombstones = new Set<number>()

  constructor(options: IndexOptions) {
    this.index = new ShardIndex(options)
  }

  /** Whether `entry` needs a log append, or is already in the log (a retry, a duplicate, a late insert after its delete). */
  decide(entry: LogEntry): WriteDecision {
    const position = this.positions.get(entry.id)
    switch (entry.op) {
      case "insert":
        return position === undefined ? { _tag: "Append", entry } : { _tag: "AlreadyLogged", position }
      case "delete":
        return position !== undefined && this.tombstones.has(entry.id) ? { _tag: "AlreadyLogged", position } : { _tag: "Append", entry }
      default: {
        const unreachable: never = entry
        throw new Error(`unknown log entry ${JSON.stringify(unreachable)}`)
      }
    }
  }

  /** Applies the next log entry and returns its position. */
  apply(entry: LogEntry): number {
    const position = this.entries++
    this.log.push(entry)
    this.positions.set(entry.id, position)
    switch (entry.op) {
      case "insert":
        if (!this.tombstones.has(entry.id)) this.index.insert(entry.id, entry.vector)
        break
      case "delete":
        this.tombstones.add(entry.id)
        this.index.delete(entry.id)
        break
      default: {
        const unreachable: never = entry
        throw new Error(`unknown log entry ${JSON.stringify(unreachable)}`)
      }
    }
    return position
  }
}
