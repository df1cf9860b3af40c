// A simulated disk: each file has what a read sees now and what survives a crash; sync moves the first to the second.
import { blockAllocator } from "../env/index.ts"
import type { RandomStream } from "./random-streams.ts"

/**
 * A file's content as a list of immutable chunks. Appends add a chunk instead of copying the file,
 * so a log that grows by small appends costs O(append), not O(file). Several versions (current and
 * durable) may share one chunk array: a version is the first `count` chunks of it.
 */
interface Content {
  readonly chunks: Array<Uint8Array>
  readonly count: number
  readonly length: number
}

interface SimulatedFile {
  /** What reads see; undefined when the file does not exist now. */
  current: Content | undefined
  /** What survives a crash; undefined when the file would not exist after one. */
  durable: Content | undefined
  /**
   * Whether every change since the last sync was an append: only then may a crash tear the file.
   * A whole-file write is never torn, even one that creates the file or happens to begin with the
   * bytes it replaces (the storage contract: a crash "may tear the last unsynced append").
   */
  appendedOnly: boolean
}

/** What a crash does to unsynced data. */
export interface CrashOptions {
  /** Keep a random prefix of the unsynced tail of one appended file, as a torn write would. */
  readonly tornWrite: boolean
}

const single = (chunk: Uint8Array): Content => ({ chunks: [chunk], count: 1, length: chunk.length })

const bytesOf = (content: Content): Uint8Array => {
  if (content.count === 1) return content.chunks[0]!.slice()
  const result = new Uint8Array(content.length)
  let offset = 0
  for (let index = 0; index < content.count; index++) {
    const chunk = content.chunks[index]!
    result.set(chunk, offset)
    offset += chunk.length
  }
  return result
}

const appendTo = (content: Content, chunk: Uint8Array): Content => {
  // Share the chunk array when this version is its tip; otherwise (another version grew it) copy it.
  const chunks = content.chunks.length === content.count ? content.chunks : content.chunks.slice(0, content.count)
  chunks.push(chunk)
  return { chunks, count: content.count + 1, length: content.length + chunk.length }
}

/** One node's disk. Survives crashes (that is the point); only unsynced changes are lost. */
export class SimulatedDisk {
  private readonly files = new Map<string, SimulatedFile>()
  /** Copies go into ranges of shared blocks (see `blockAllocator`), as the standard Raft scenario appends over a thousand times a seed. */
  private readonly allocate = blockAllocator()

  /** A copy of `data` that the caller cannot change; no one writes to it after the copy, so sharing its block is safe. */
  private copy(data: Uint8Array): Uint8Array {
    const copy = this.allocate(data.length)
    copy.set(data)
    return copy
  }

  read(name: string): Uint8Array | undefined {
    const content = this.files.get(name)?.current
    return content === undefined ? undefined : bytesOf(content)
  }

  write(name: string, data: Uint8Array): void {
    const file = this.file(name)
    file.current = single(this.copy(data))
    file.appendedOnly = false
  }

  append(name: string, data: Uint8Array): void {
    const file = this.file(name)
    if (file.current === file.durable) file.appendedOnly = true
    file.current = appendTo(file.current ?? { chunks: [], count: 0, length: 0 }, this.copy(data))
  }

  truncate(name: string, size: number): void {
    const file = this.files.get(name)
    const current = file?.current
    if (file === undefined || current === undefined || size >= current.length) return
    file.current = single(bytesOf(current).subarray(0, size))
    file.appendedOnly = false
  }

  remove(name: string): void {
    const file = this.files.get(name)
    if (file === undefined) return
    file.current = undefined
    file.appendedOnly = false
  }

  sync(name: string): void {
    const file = this.files.get(name)
    if (file === undefined) return
    file.durable = file.current
    if (file.current === undefined) this.files.delete(name)
  }

  list(): Array<string> {
    const names: Array<string> = []
    for (const [name, file] of this.files) if (file.current !== undefined) names.push(name)
    return names.sort()
  }

  /** Names of files with unsynced changes, sorted. */
  dirtyFiles(): Array<string> {
    const names: Array<string> = []
    for (const [name, file] of this.files) if (file.current !== file.durable) names.push(name)
    return names.sort()
  }

  /**
   * Loses every unsynced change. With `tornWrite`, one file whose unsynced change only appended
   * keeps a random non-empty prefix of the appended bytes. Returns what was torn, for the trace.
   */
  crash(options: CrashOptions, random: RandomStream): { readonly file: string; readonly keptBytes: number } | undefined {
    let torn: { file: string; keptBytes: number } | undefined
    if (options.tornWrite) {
      const candidates = this.dirtyFiles().filter((name) => this.appendedOnly(this.files.get(name)!))
      if (candidates.length > 0) {
        const name = random.pick(candidates)
        const file = this.files.get(name)!
        const durableLength = file.durable?.length ?? 0
        const extra = file.current!.length - durableLength
        const keptBytes = 1 + random.nextInt(extra)
        file.durable = single(bytesOf(file.current!).subarray(0, durableLength + keptBytes))
        torn = { file: name, keptBytes }
      }
    }
    for (const [name, file] of [...this.files]) {
      file.current = file.durable
      if (file.durable === undefined) this.files.delete(name)
    }
    return torn
  }

  private appendedOnly(file: SimulatedFile): boolean {
    return file.appendedOnly && file.current !== undefined && file.current.length > (file.durable?.length ?? 0)
  }

  private file(name: string): SimulatedFile {
    let file = this.files.get(name)
    if (file === undefined) {
      file = { current: undefined, durable: undefined, appendedOnly: false }
      this.files.set(name, file)
    }
    return file
  }
}
