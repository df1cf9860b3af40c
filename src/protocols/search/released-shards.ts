// Which shards a replica keeps in memory after a membership change moved them away: each stays loaded while anyone still
// asks for it, is unloaded once it has gone unused for a while, and is loaded again from its log if asked for after all.

/**
 * A replica's shards released by membership changes, as plain data. A released shard is not dropped at once: until
 * every new owner has caught up and every client has taken it over, clients still query it, writes still count at it
 * and new owners copy from it, and the replica is told of none of that. So it stays loaded until it has gone unused
 * for `lingerMs`; its log stays on disk, and a late message for it (a client that missed the takeover, a new owner
 * that restarted its copy) loads it again from that log, which rebuilds the same index. Only a shard whose entries
 * are all synced is unloaded, so the log on disk holds everything the replica had in memory.
 */
export class ReleasedShards {
  /** Loaded shards this node no longer holds, each with when it was last asked for. */
  private readonly lastUsedMs = new Map<string, number>()
  /** Released shards asked for since the last `idle`. */
  private readonly touched = new Set<string>()
  /** Released shards unloaded from memory. */
  private readonly unloaded = new Set<string>()

  constructor(private readonly lingerMs: number) {}

  /** Whether anything is released: when nothing is, the replica does no bookkeeping at all. */
  get any(): boolean {
    return this.lastUsedMs.size > 0 || this.unloaded.size > 0
  }

  isUnloaded(shard: string): boolean {
    return this.unloaded.has(shard)
  }

  /**
   * A membership was adopted: `held` are the shards this node holds in it and `loaded` those it has in memory.
   * Returns the loaded shards it releases now (the caller stamps them with `released`) and the unloaded ones it holds
   * again (the caller loads them).
   */
  adopt(held: ReadonlyArray<string>, loaded: Iterable<string>): { readonly releasing: Array<string>; readonly reload: Array<string> } {
    for (const shard of held) this.lastUsedMs.delete(shard)
    const releasing = [...loaded].filter((shard) => !held.includes(shard) && !this.lastUsedMs.has(shard))
    return { releasing, reload: held.filter((shard) => this.unloaded.has(shard)) }
  }

  /** `shards` were released at `nowMs`: the linger starts then. */
  released(shards: ReadonlyArray<string>, nowMs: number): void {
    for (const shard of shards) this.lastUsedMs.set(shard, nowMs)
  }

  /** A message asks for `shard`; returns whether it must be loaded again first. */
  touch(shard: string): boolean {
    if (this.unloaded.has(shard)) {
      this.touched.add(shard)
      return true
    }
    if (this.lastUsedMs.has(shard)) this.touched.add(shard)
    return false
  }

  /** `shard` was loaded again from its log (asked for, or held again): it is released and in memory once more, or held. */
  reloaded(shard: string, held: boolean, nowMs: number): void {
    this.unloaded.delete(shard)
    if (!held) this.lastUsedMs.set(shard, nowMs)
  }

  /**
   * After a batch at `nowMs`: the shards touched in it were used now; returns the released shards unused for the
   * linger, which the caller unloads (reporting each with `unload`) if their entries are all synced.
   */
  idle(nowMs: number): Array<string> {
    for (const shard of this.touched) if (this.lastUsedMs.has(shard)) this.lastUsedMs.set(shard, nowMs)
    this.touched.clear()
    return [...this.lastUsedMs].filter(([, lastUsedMs]) => nowMs - lastUsedMs >= this.lingerMs).map(([shard]) => shard)
  }

  /** `shard` was unloaded from memory. */
  unload(shard: string): void {
    this.lastUsedMs.delete(shard)
    this.unloaded.add(shard)
  }
}
