// What search clients and replicas say to each other: plain JSON, narrowed on receipt.
import type { LogEntry } from "./shard-log.ts"

/** Insert (or overwrite) vector `id` into `shard`. Sent to every replica of the shard; answered by `Acked` once durable. */
export interface Insert {
  readonly _tag: "Insert"
  readonly shard: string
  readonly id: number
  readonly vector: ReadonlyArray<number>
}

/** Delete vector `id` from `shard`; answered by `Acked` once durable. */
export interface Delete {
  readonly _tag: "Delete"
  readonly shard: string
  readonly id: number
}

/** A replica has `id`'s insert or delete in its synced log. */
export interface Acked {
  readonly _tag: "Acked"
  readonly op: "insert" | "delete"
  readonly shard: string
  readonly id: number
}

/** Search `shard` for the k nearest neighbours of `vector` with the given ef. */
export interface Query {
  readonly _tag: "Query"
  readonly query: number
  readonly shard: string
  readonly vector: ReadonlyArray<number>
  readonly k: number
  readonly ef: number
}

/** One replica's top-k for one shard. */
export interface Hits {
  readonly _tag: "Hits"
  readonly query: number
  readonly shard: string
  readonly ids: ReadonlyArray<number>
  readonly distances: ReadonlyArray<number>
}

/** An operator's membership change (the quorum store's admin sends it): the ring's nodes from `epoch` on. */
export interface Membership {
  readonly _tag: "Membership"
  readonly epoch: number
  readonly nodes: ReadonlyArray<string>
}

/** A new owner asks a replica for `shard`'s synced log entries from position `after` on. */
export interface Fetch {
  readonly _tag: "Fetch"
  readonly shard: string
  readonly after: number
}

/** Up to a chunk of `shard`'s log from position `after`, and how many entries the sender has synced in all. */
export interface Entries {
  readonly _tag: "Entries"
  readonly shard: string
  readonly after: number
  readonly entries: ReadonlyArray<LogEntry>
  readonly synced: number
}

/** A new owner holds every entry its source had synced when it caught up: clients may take `shard` over to it. */
export interface ShardReady {
  readonly _tag: "ShardReady"
  readonly epoch: number
  readonly shard: string
}

export type Message = Insert | Delete | Acked | Query | Hits | Membership | Fetch | Entries | ShardReady

const tags = new Set(["Insert", "Delete", "Acked", "Query", "Hits", "Membership", "Fetch", "Entries", "ShardReady"])

/** The message `value` is, or `undefined` for anything else a network might deliver. */
export const asMessage = (value: unknown): Message | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const tag = (value as { _tag?: unknown })._tag
  return typeof tag === "string" && tags.has(tag) ? value as Message : undefined
}
