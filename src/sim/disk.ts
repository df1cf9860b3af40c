// A simulated disk: each file has what a read sees now and what survives a crash; sync moves the first to the second.
import type { RandomStream } from "./random-streams.ts"

interface SimulatedFile {
  /** What reads see; undefined when the file does not exist now. */
  current: Uint8Array | undefined
  /** What survives a crash; undefined when the file would not exist after one. */
  durable: Uint8Array | undefined
}

/** What a crash does to unsynced data. */
export interface CrashOptions {
  /** Keep a random prefix of the unsynced tail of one appended file, as a torn write would. */
  readonly tornWrite: boolean
}

/** One node's disk. Survives crashes (that is the point); only unsynced changes are lost. */
export class SimulatedDisk {
  private readonly files = new Map<string, SimulatedFile>()

  read(name: string): Uint8Array | undefined {
    const content = this.files.get(name)?.current
    return content === undefined ? undefined : content.slice()
  }

  write(name: string, data: Uint8Array): void {
    this.file(name).current = data.slice()
  }

  append(name: string, data: Uint8Array): void {
    const file = this.file(name)
    const before = file.current ?? new Uint8Array(0)
    const after = new Uint8Array(before.length + data.length)
    after.set(before, 0)
    after.set(data, before.length)
    file.current = after
  }

  truncate(name: string, size: number): void {
    const file = this.file(name)
    const before = file.current ?? new Uint8Array(0)
    if (size >= before.length) return
    file.current = before.slice(0, size)
  }

  remove(name: string): void {
    const file = this.files.get(name)
    if (file !== undefined) file.current = undefined
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
        file.durable = file.current!.slice(0, durableLength + keptBytes)
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
    const current = file.current
    if (current === undefined) return false
    const durable = file.durable ?? new Uint8Array(0)
    if (current.length <= durable.length) return false
    for (let index = 0; index < durable.length; index++) if (current[index] !== durable[index]) return false
    return true
  }

  private file(name: string): SimulatedFile {
    let file = this.files.get(name)
    if (file === undefined) {
      file = { current: undefined, durable: undefined }
      this.files.set(name, file)
    }
    return file
  }
}
