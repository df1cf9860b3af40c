// Raft's storage files carry checksums: a damaged byte makes recovery refuse the file, naming it and
// the line, while a torn last append is still cut. Never is damage read back as different entries.
import { Effect, Result } from "effect"
import fc from "fast-check"
import { crc32 as zlibCrc32 } from "node:zlib"
import { storageOf } from "./fixtures/disk-storage.ts"
import { describe, expect, it } from "vitest"
import { decodeText, disabledSpans, encodeText, Storage, Tracing } from "../src/env/index.ts"
import { crc32, checksummedLine, encodeChecksummedLines } from "../src/protocols/raft/checksum.ts"
import { StorageCorruption } from "../src/env/index.ts"
import { makeDurableState } from "../src/protocols/raft/durable-state.ts"
import type { Entry, Ready, RestoredState, Snapshot } from "../src/protocols/raft/index.ts"
import { SimulatedDisk } from "../src/sim/disk.ts"
import { RandomStream } from "../src/sim/random-streams.ts"

const silentTracing = Tracing.of({ event: () => Effect.void, span: (_name, _attributes, effect) => effect, spans: disabledSpans })

const entry = (index: number, term: number, value: string = `v${index}`): Entry => ({
  index,
  term,
  command: { _tag: "Kv", clientId: "c1", sequence: index, operation: { _tag: "Put", key: "k", value } }
})

const ready = (fields: Partial<Ready>): Ready => ({ entries: [], messages: [], committedEntries: [], readStates: [], ...fields })

/** A fresh durable state's recovery on `disk`: what it restored, or the error it failed with. */
const recover = (disk: SimulatedDisk): Result.Result<RestoredState, unknown> =>
  Effect.runSync(
    Effect.result(Effect.map(Effect.provideService(makeDurableState(storageOf(disk)).recover, Tracing, silentTracing), (recovered) => recovered.restored))
  )

/** The error recovery on `disk` fails with; fails the test when recovery succeeds. */
const recoveryError = (disk: SimulatedDisk): unknown => {
  const result = recover(disk)
  if (Result.isSuccess(result)) throw new Error(`recovery succeeded with entries ${result.success.entries.map((item) => item.index).join(", ")}`)
  return result.failure
}

/** A disk holding `count` synced entries of term 1 (in batches of 3, as a leader appends), a vote and a snapshot. */
const diskWithLog = (count: number, options: { readonly snapshot?: boolean; readonly value?: (index: number) => string } = {}) => {
  const disk = new SimulatedDisk()
  const durable = makeDurableState(storageOf(disk))
  if (options.snapshot === true) {
    const snapshot: Snapshot = { lastIncludedIndex: 0, lastIncludedTerm: 0, configuration: { voters: ["n1", "n2", "n3"] }, data: { k: "v0" } }
    Effect.runSync(durable.compact(snapshot, []))
  }
  Effect.runSync(durable.persist(ready({ hardState: { term: 1, votedFor: "n1", commitIndex: 0 } })))
  for (let first = 1; first <= count; first += 3) {
    const batch: Array<Entry> = []
    for (let index = first; index < Math.min(first + 3, count + 1); index++) batch.push(entry(index, 1, options.value?.(index) ?? `v${index}`))
    Effect.runSync(durable.persist(ready({ entries: batch })))
  }
  return disk
}

/** `file` on `disk` with the byte at `position` XORed with `mask`, synced. */
const flipByte = (disk: SimulatedDisk, file: string, position: number, mask = 0x01): void => {
  const bytes = disk.read(file)!
  bytes[position] = bytes[position]! ^ mask
  disk.write(file, bytes)
  disk.sync(file)
}

/** Where line `line` (from 1) of `file` starts. */
const lineStart = (disk: SimulatedDisk, file: string, line: number): number => {
  const text = decodeText(disk.read(file)!)
  let start = 0
  for (let count = 1; count < line; count++) start = text.indexOf("\n", start) + 1
  return start
}

const ADVICE = "(the file is damaged; restore it, or remove this node's data so it rejoins from its peers)"

describe("raft storage checksums: damage in the log is refused (Reference: Figure 2, persistent state is updated on stable storage before responding to RPCs)", () => {
  it("a flipped byte inside a line's JSON in the middle of the log fails recovery naming raft-log and the line", () => {
    // Set up: ten synced entries; the byte flipped lies in entry 5's value, and keeps the JSON valid.
    const disk = diskWithLog(10)
    const start = lineStart(disk, "raft-log", 5)
    const line = decodeText(disk.read("raft-log")!).slice(start).split("\n")[0]!
    const before = disk.read("raft-log")!
    // Act: "v5" becomes "v4", a value the old format would have read back without a word.
    flipByte(disk, "raft-log", start + line.indexOf('"v5"') + 2, 0x01)
    const error = recoveryError(disk)
    // Check: a StorageCorruption naming the file and the line, and a message that says what to do.
    expect(error).toBeInstanceOf(StorageCorruption)
    const corruption = error as StorageCorruption
    expect(corruption._tag).toBe("StorageCorruption")
    expect({ file: corruption.file, line: corruption.line }).toEqual({ file: "raft-log", line: 5 })
    expect(corruption.reason).toMatch(/^checksum mismatch \(stored [0-9a-f]{8}, computed [0-9a-f]{8}\)$/)
    expect(corruption.message).toBe(`raft-log line 5: ${corruption.reason} ${ADVICE}`)
    // Nothing was cut or rewritten: the file is as it was but for the flipped byte.
    const after = disk.read("raft-log")!
    expect(after.length).toBe(before.length)
    expect(after.filter((byte, index) => byte !== before[index])).toHaveLength(1)
  })

  it("a flipped byte in a line's checksum fails recovery naming the line", () => {
    const disk = diskWithLog(10)
    // Act: the checksum's third hex digit of line 7 changes to another hex digit.
    const position = lineStart(disk, "raft-log", 7) + 2
    const digit = disk.read("raft-log")![position]!
    flipByte(disk, "raft-log", position, digit === 0x30 ? 0x01 : digit ^ 0x31)
    const corruption = recoveryError(disk) as StorageCorruption
    expect(corruption).toBeInstanceOf(StorageCorruption)
    expect([corruption.file, corruption.line]).toEqual(["raft-log", 7])
    expect(corruption.reason).toMatch(/^checksum mismatch/)
  })

  it("a byte flipped into something that is not a hex digit makes the line malformed, not silently skipped", () => {
    const disk = diskWithLog(4)
    flipByte(disk, "raft-log", lineStart(disk, "raft-log", 2), 0x80)
    const corruption = recoveryError(disk) as StorageCorruption
    expect([corruption.file, corruption.line]).toEqual(["raft-log", 2])
    expect(corruption.reason).toMatch(/^not a checksummed line/)
  })

  it("a log of bare JSON lines (written before checksums) is refused, and the message says what it likely is", () => {
    const disk = new SimulatedDisk()
    disk.write("raft-log", encodeText(JSON.stringify(entry(1, 1)) + "\n"))
    disk.sync("raft-log")
    const corruption = recoveryError(disk) as StorageCorruption
    expect([corruption.file, corruption.line]).toEqual(["raft-log", 1])
    expect(corruption.reason).toMatch(/before checksums were added\?\)$/)
  })

  it("a complete last line whose checksum does not match is damage, not a torn write", () => {
    // A prefix tear keeps bytes as written, and the checksum precedes the JSON it covers, so a
    // complete line from a tear has its right checksum; a mismatch on one means the line changed.
    const disk = diskWithLog(6)
    const text = decodeText(disk.read("raft-log")!)
    // "v6" becomes "v7": valid JSON, a different entry, and the newline still there.
    flipByte(disk, "raft-log", text.lastIndexOf('"v6"') + 2, 0x01)
    const corruption = recoveryError(disk) as StorageCorruption
    expect([corruption.file, corruption.line]).toEqual(["raft-log", 6])
  })

  it("a damaged newline at the end of the log is not taken for a torn last line", () => {
    // Without the newline, line 6 looks incomplete; but it is a whole line followed by a stray
    // byte, which no prefix of a line can be, so cutting it would drop a synced entry.
    const disk = diskWithLog(6)
    const bytes = disk.read("raft-log")!
    flipByte(disk, "raft-log", bytes.length - 1, 0x20)
    const corruption = recoveryError(disk) as StorageCorruption
    expect([corruption.file, corruption.line]).toEqual(["raft-log", 6])
    expect(corruption.reason).toMatch(/^damaged last line/)
  })

  it("a line whose checksum matches but whose index is out of place is refused with both indexes", () => {
    // Set up: an operator's edit that duplicated line 2 with a valid checksum.
    const disk = diskWithLog(3)
    disk.append("raft-log", encodeText(checksummedLine(JSON.stringify(entry(2, 1)))))
    disk.sync("raft-log")
    const corruption = recoveryError(disk) as StorageCorruption
    expect([corruption.file, corruption.line, corruption.reason]).toEqual(["raft-log", 4, "entry 2 where 4 was expected"])
  })
})

describe("raft storage checksums: torn appends are still cut (Reference: Figure 2, persistent state)", () => {
  it("a torn last line (a prefix without its newline) is cut, and recovery succeeds with the entries before it", () => {
    for (const keep of [1, 5, 9, 20, 40]) {
      // Set up: four synced entries, then a prefix of entry 5's line, as a crash mid-append leaves.
      const disk = diskWithLog(4)
      const line = checksummedLine(JSON.stringify(entry(5, 1)))
      disk.append("raft-log", encodeText(line.slice(0, keep)))
      disk.sync("raft-log")
      // Act
      const result = recover(disk)
      // Check: entries 1..4 come back, and the torn bytes are gone from the file.
      expect(Result.isSuccess(result), `keeping ${keep} bytes`).toBe(true)
      if (Result.isSuccess(result)) expect(result.success.entries.map((item) => item.index)).toEqual([1, 2, 3, 4])
      expect(decodeText(disk.read("raft-log")!).endsWith("\n")).toBe(true)
    }
  })

  it("a torn last line that lost only its newline is cut: its entry was never synced", () => {
    const disk = diskWithLog(4)
    const line = checksummedLine(JSON.stringify(entry(5, 1)))
    disk.append("raft-log", encodeText(line.slice(0, -1)))
    disk.sync("raft-log")
    const result = recover(disk)
    expect(Result.isSuccess(result) && result.success.entries.length).toBe(4)
  })

  it("property: a crash that tears the last unsynced append never looks like damage, and loses no synced entry", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.string({ unit: "binary", maxLength: 12 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (batches, seed) => {
          // Set up: every batch but the last appended and synced; the last appended through the
          // same code, but its sync never happens (the process dies first).
          const disk = new SimulatedDisk()
          let syncing = true
          const durable = makeDurableState(Storage.of({ ...storageOf(disk), sync: (file) => Effect.sync(() => syncing && disk.sync(file)) }))
          let index = 0
          const written: Array<Entry> = []
          for (const [position, batch] of batches.entries()) {
            const entries = batch.map((value) => entry(++index, 1, value))
            written.push(...entries)
            syncing = position < batches.length - 1
            Effect.runSync(durable.persist(ready({ entries })))
          }
          const syncedCount = written.length - batches.at(-1)!.length
          // Act: the crash keeps a random non-empty prefix of the unsynced append.
          const torn = disk.crash({ tornWrite: true }, new RandomStream(seed, "disk"))
          expect(torn?.file).toBe("raft-log")
          const result = recover(disk)
          // Check: recovery succeeds with every synced entry, then some whole entries of the torn batch, as written.
          expect(Result.isSuccess(result)).toBe(true)
          if (!Result.isSuccess(result)) return
          const recovered = result.success.entries
          expect(recovered.length).toBeGreaterThanOrEqual(syncedCount)
          expect(recovered).toEqual(written.slice(0, recovered.length))
        }
      ),
      { numRuns: 200 }
    )
  })
})

describe("raft storage checksums: the hard state and the snapshot (Reference: Figure 2, currentTerm and votedFor are persistent; §7 snapshots)", () => {
  it("a flipped byte in the hard state is refused: a node that forgot its vote could vote twice", () => {
    const disk = diskWithLog(2)
    const text = decodeText(disk.read("raft-hardstate")!)
    // "n1" becomes "n0": a different vote, still valid JSON.
    flipByte(disk, "raft-hardstate", text.indexOf('"n1"') + 2, 0x01)
    const corruption = recoveryError(disk) as StorageCorruption
    expect(corruption).toBeInstanceOf(StorageCorruption)
    expect([corruption.file, corruption.line]).toEqual(["raft-hardstate", 1])
    expect(corruption.message).toMatch(/^raft-hardstate line 1: checksum mismatch/)
  })

  it("a hard state cut short (no final newline) is refused as incomplete: whole-file writes are never torn", () => {
    const disk = diskWithLog(2)
    const bytes = disk.read("raft-hardstate")!
    disk.write("raft-hardstate", bytes.subarray(0, bytes.length - 5))
    disk.sync("raft-hardstate")
    const corruption = recoveryError(disk) as StorageCorruption
    expect([corruption.file, corruption.line]).toEqual(["raft-hardstate", 1])
    expect(corruption.reason).toMatch(/^incomplete/)
  })

  it("a flipped byte in the snapshot is refused", () => {
    const disk = diskWithLog(2, { snapshot: true })
    const text = decodeText(disk.read("raft-snapshot")!)
    flipByte(disk, "raft-snapshot", text.indexOf('"v0"') + 2, 0x02)
    const corruption = recoveryError(disk) as StorageCorruption
    expect([corruption.file, corruption.line]).toEqual(["raft-snapshot", 1])
    expect(corruption.reason).toMatch(/^checksum mismatch/)
  })

  it("an undamaged hard state and snapshot are read back as written", () => {
    const disk = diskWithLog(2, { snapshot: true })
    const result = recover(disk)
    expect(Result.isSuccess(result)).toBe(true)
    if (Result.isSuccess(result)) {
      expect(result.success.hardState).toEqual({ term: 1, votedFor: "n1", commitIndex: 0 })
      expect(result.success.snapshot?.data).toEqual({ k: "v0" })
    }
  })
})

describe("raft storage checksums: no single flipped byte is read back as different entries", () => {
  it("property: any single flipped byte in a log, torn tail or not, is detected, or falls in the torn tail and is cut", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (count, unicode, tornSeed, positionSeed, mask, torn) => {
          // Set up: `count` synced entries (some with non-ASCII values), then maybe a torn prefix of one more.
          const disk = diskWithLog(count, { value: (index) => (unicode && index % 2 === 0 ? `v${index}-é€😀` : `v${index}`) })
          const syncedLength = disk.read("raft-log")!.length
          if (torn) {
            const line = encodeText(checksummedLine(JSON.stringify(entry(count + 1, 1))))
            disk.append("raft-log", line.subarray(0, 1 + (tornSeed % (line.length - 1))))
            disk.sync("raft-log")
          }
          const intact = recover(diskCopy(disk))
          expect(Result.isSuccess(intact)).toBe(true)
          if (!Result.isSuccess(intact)) return
          expect(intact.success.entries.map((item) => item.index)).toEqual(Array.from({ length: count }, (_, offset) => offset + 1))
          // Act: flip one byte anywhere in the file.
          const size = disk.read("raft-log")!.length
          const position = positionSeed % size
          flipByte(disk, "raft-log", position, mask)
          const result = recover(disk)
          // Check: detected (a StorageCorruption on raft-log), or cut with the torn tail it fell in.
          if (Result.isFailure(result)) {
            expect(result.failure).toBeInstanceOf(StorageCorruption)
            expect((result.failure as StorageCorruption).file).toBe("raft-log")
          } else {
            expect(position, `flip at ${position} of ${size} (synced ${syncedLength}) was accepted`).toBeGreaterThanOrEqual(syncedLength)
            expect(result.success.entries).toEqual(intact.success.entries)
          }
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("every single-bit flip of every byte of a small log is detected", () => {
    // Exhaustive over one log: CRC-32 catches every single-bit error, and a flipped newline or
    // header byte breaks the format, so there is no position where a flip slips through.
    const disk = diskWithLog(3)
    const bytes = disk.read("raft-log")!
    let detected = 0
    for (let position = 0; position < bytes.length; position++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = diskCopy(disk)
        flipByte(copy, "raft-log", position, 1 << bit)
        const result = recover(copy)
        expect(Result.isFailure(result), `bit ${bit} of byte ${position}`).toBe(true)
        if (Result.isFailure(result)) detected++
      }
    }
    expect(detected).toBe(bytes.length * 8)
  })

  it("the checksum is the CRC-32 of zlib (check value of \"123456789\")", () => {
    expect(crc32(encodeText("123456789")).toString(16)).toBe("cbf43926")
  })

  it("property: the CRC-32 of any range, eight bytes a step or not, is zlib's", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(), fc.nat(), (bytes, first, second) => {
        const start = first % (bytes.length + 1)
        const end = start + (second % (bytes.length - start + 1))
        expect(crc32(bytes, start, end)).toBe(zlibCrc32(bytes.subarray(start, end)))
      }),
      { numRuns: 500 }
    )
  })

  it("property: lines encoded straight to bytes are the UTF-8 of the framed lines, ASCII or not, each ending where said", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: "binary" })).map((value) => JSON.stringify({ value })), { minLength: 1, maxLength: 5 }), (jsons) => {
        const lines = jsons.map(checksummedLine)
        const encoded = encodeChecksummedLines(jsons)
        expect(encoded.bytes).toEqual(encodeText(lines.join("")))
        let end = 0
        expect(encoded.lineEnds).toEqual(lines.map((line) => (end += encodeText(line).length)))
      }),
      { numRuns: 300 }
    )
  })
})

/** A copy of `disk`'s synced files. */
const diskCopy = (disk: SimulatedDisk): SimulatedDisk => {
  const copy = new SimulatedDisk()
  for (const file of disk.list()) {
    copy.write(file, disk.read(file)!)
    copy.sync(file)
  }
  return copy
}
