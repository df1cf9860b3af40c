// A real Raft cluster of processes, driven by the CLI as the README tells a user to: kill the leader, restart it,
// run concurrent clients, check their history and the merged traces, restart the cluster and find every write.
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { FRAME_HEADER_BYTES, layoutOf } from "../src/real/storage-frames.ts"
import { runCli } from "./fixtures/cli.ts"
import { framesOf } from "./fixtures/storage-frames.ts"
import { freeBasePort } from "./fixtures/real-ports.ts"

const root = mkdtempSync(join(tmpdir(), "faultline-cluster-"))
const data = join(root, "data")

interface StatusNode {
  readonly id: string
  readonly pid: number | null
  readonly state: string
  readonly role: string
  readonly address: string
}

const status = (): Array<StatusNode> => JSON.parse(runCli(["cluster", "status", "--data", data, "--json"]).stdout).nodes

afterAll(() => {
  // Whatever happened, no node process outlives the test.
  runCli(["cluster", "down", "--data", data])
  rmSync(root, { recursive: true, force: true })
})

describe("a real Raft cluster, from the command line", () => {
  it("survives a leader's SIGKILL, serves concurrent clients linearizably, passes its checkers, and keeps every write across a restart", async () => {
    // Set up: three node processes in the background.
    const base = await freeBasePort(3)
    const up = runCli(["cluster", "up", "--nodes", "3", "--base-port", String(base), "--data", data, "--detach"])
    expect(up.stderr).toBe("")
    expect(up.status).toBe(0)
    expect(up.stdout).toContain("raft cluster of 3 nodes is up")

    // A write and a read, with the client and with HTTP.
    expect(runCli(["client", "put", "greeting", "hello", "--data", data]).stdout.trim()).toBe("ok")
    expect(runCli(["client", "get", "greeting", "--data", data]).stdout.trim()).toBe('"hello"')
    const http = `127.0.0.1:${base + 101}`
    const put = await fetch(`http://${http}/kv/color`, { method: "PUT", body: JSON.stringify("blue") })
    expect(await put.json()).toEqual({ ok: true })
    expect(await (await fetch(`http://${http}/kv/color`)).json()).toEqual({ value: "blue" })

    // Act: kill the leader's process with SIGKILL; the next put succeeds once another leads.
    const leaders = status().filter((node) => node.role === "leader")
    expect(leaders).toHaveLength(1)
    process.kill(leaders[0]!.pid!, "SIGKILL")
    const afterKill = runCli(["client", "put", "after-kill", "1", "--data", data])
    expect(afterKill.stdout.trim()).toBe("ok")
    expect(status().find((node) => node.id === leaders[0]!.id)!.state).toBe("stopped")
    expect(status().filter((node) => node.role === "leader").map((node) => node.id)).not.toContain(leaders[0]!.id)

    // Restart it, and run concurrent clients that record their history.
    const again = runCli(["cluster", "up", "--data", data, "--detach"])
    expect(again.stdout).toContain(`restarted ${leaders[0]!.id}`)
    const history = join(root, "history.jsonl")
    const load = runCli(["load", "--clients", "4", "--operations", "25", "--history", history, "--data", data])
    expect(load.stderr).toBe("")
    expect(load.stdout).toMatch(/^4 clients, 100 operations/)

    // Check: the history is linearizable, and the merged traces pass every Raft safety check.
    const check = runCli(["check", history])
    expect(check.stdout).toContain("✓ linearizable")
    expect(check.status).toBe(0)
    const traces = runCli(["trace-check", "--data", data, "--json"])
    const verdict = JSON.parse(traces.stdout)
    expect(verdict.checks.map((entry: { check: string }) => entry.check)).toEqual([
      "election-safety",
      "state-machine-safety",
      "leader-completeness",
      "linearizability"
    ])
    expect(verdict.violations).toEqual([])
    expect(traces.status).toBe(0)

    // Stop the whole cluster and start it again: every acknowledged write is still there.
    expect(runCli(["cluster", "down", "--data", data]).stdout).toContain("stopped n1, n2, n3")
    expect(status().every((node) => node.state === "stopped")).toBe(true)
    expect(runCli(["cluster", "up", "--data", data, "--detach"]).status).toBe(0)
    expect(runCli(["client", "get", "greeting", "--data", data]).stdout.trim()).toBe('"hello"')
    expect(runCli(["client", "get", "color", "--data", data]).stdout.trim()).toBe('"blue"')
    expect(runCli(["client", "get", "after-kill", "--data", data]).stdout.trim()).toBe("1")
    expect(runCli(["cluster", "down", "--data", data]).status).toBe(0)
  }, 90_000)
})

describe("a node's damaged log (after the cluster above has stopped)", () => {
  /** Runs node n1 of the stopped cluster above on a copy of its data directory, with `damage` done to the copy's log. */
  const runDamaged = async (damage: (log: Buffer) => Buffer): Promise<{ code: number | null; stdout: string; stderr: string; log: Buffer }> => {
    const description = JSON.parse(readFileSync(join(data, "cluster.json"), "utf8")) as { nodes: Array<{ id: string; address: string }>; secretFile: string }
    const copy = mkdtempSync(join(root, "damaged-n1-"))
    cpSync(join(data, "n1"), copy, { recursive: true })
    const damaged = damage(readFileSync(join(copy, "raft-log")))
    writeFileSync(join(copy, "raft-log"), damaged)
    const peers = description.nodes.filter((node) => node.id !== "n1").map((node) => `${node.id}=${node.address}`).join(",")
    const args = ["node", "--protocol", "raft", "--id", "n1", "--listen", "127.0.0.1:0", "--peers", peers, "--data", copy, "--secret-file", description.secretFile]
    const child = spawn(process.execPath, [resolve("bin/faultline.js"), ...args])
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      // A node that starts is stopped as an operator would stop it.
      if (stdout.includes("listening on")) setTimeout(() => child.kill("SIGTERM"), 300)
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const code = await new Promise<number | null>((resolvePromise) => child.on("exit", resolvePromise))
    return { code, stdout, stderr, log: readFileSync(join(copy, "raft-log")) }
  }

  it("a flipped byte in the middle: the node refuses to start, naming the file and the byte, and changes nothing", async () => {
    let damaged = Buffer.alloc(0)
    const result = await runDamaged((log) => {
      damaged = Buffer.from(log)
      expect(layoutOf(damaged)._tag).toBe("Framed")
      const frames = framesOf(damaged)
      const middle = frames[Math.floor(frames.length / 2)]!
      expect(middle).not.toBe(frames.at(-1))
      const position = middle.offset + FRAME_HEADER_BYTES + Math.floor(middle.length / 2)
      damaged[position] = damaged[position]! ^ 0x01
      return damaged
    })
    expect(result.stderr.trim().split("\n").at(-1)).toMatch(/^faultline: n1: cannot start: raft-log: the synced change at byte \d+ is damaged \(its checksum does not match, and more data follows it\) \(the file is damaged; restore it/)
    expect(result.code).toBe(2)
    expect(result.log.equals(damaged)).toBe(true)
  }, 30_000)

  it("a log cut short in its last synced change (a crash mid-write): the node drops that change, starts and stops cleanly", async () => {
    const result = await runDamaged((log) => {
      expect(layoutOf(log)._tag).toBe("Framed")
      const last = framesOf(log).at(-1)!
      return log.subarray(0, last.offset + FRAME_HEADER_BYTES + Math.floor(last.length / 2))
    })
    expect(result.stdout).toContain("n1 (raft, 3 nodes) listening on")
    expect(result.code).toBe(0)
  }, 30_000)
})

describe("faultline node refuses bad input with one line and exit 2", () => {
  const secretFile = join(root, "bad-input.secret")
  writeFileSync(secretFile, "a cluster secret of more than sixteen bytes\n")
  const node = (...args: Array<string>) =>
    runCli(["node", "--protocol", "raft", "--id", "n1", "--peers", "n2=127.0.0.1:1,n3=127.0.0.1:2", "--secret-file", secretFile, ...args])

  const expectRefused = (result: ReturnType<typeof runCli>, message: string) => {
    expect(result.stderr.trim().split("\n"), result.stderr).toHaveLength(1)
    expect(result.stderr).toContain(message)
    expect(result.status).toBe(2)
  }

  it("a data directory that does not exist", () => {
    expectRefused(node("--data", join(root, "nowhere"), "--listen", "127.0.0.1:0"), "--data: ")
  })

  it("a data directory that is a file", () => {
    const file = join(root, "a-file")
    writeFileSync(file, "")
    expectRefused(node("--data", file, "--listen", "127.0.0.1:0"), `--data: ${file} is not a directory`)
  })

  it("a data directory that is not writable (made immutable as root, whom permission bits do not stop)", () => {
    const directory = mkdtempSync(join(root, "read-only-"))
    chmodSync(directory, 0o500)
    const asRoot = process.getuid?.() === 0
    if (asRoot) expect(spawnSync("chattr", ["+i", directory]).status).toBe(0)
    try {
      expectRefused(node("--data", directory, "--listen", "127.0.0.1:0"), `--data: ${directory} is not writable`)
    } finally {
      if (asRoot) spawnSync("chattr", ["-i", directory])
    }
  })

  it("a secret file that is too short", () => {
    const short = join(root, "short.secret")
    writeFileSync(short, "tiny\n")
    const directory = mkdtempSync(join(root, "node-"))
    const result = runCli(["node", "--protocol", "raft", "--id", "n1", "--data", directory, "--secret-file", short, "--listen", "127.0.0.1:0"])
    expectRefused(result, "--secret-file: secret file")
  })

  it("ids that are not n1..nN", () => {
    const directory = mkdtempSync(join(root, "node-"))
    expectRefused(node("--data", directory, "--id", "n7"), "--id and --peers: a cluster of 3 names its nodes n1, n2, n3")
  })

  it("a port in use: the node cannot start and says which address", async () => {
    // Set up: something already listens on the port.
    const blocker = createServer()
    await new Promise<void>((resolvePromise) => blocker.listen(0, "127.0.0.1", resolvePromise))
    const port = (blocker.address() as { port: number }).port
    try {
      // Act: a node that wants that port, run as a separate process (the blocker lives in this one).
      const directory = mkdtempSync(join(root, "node-"))
      const args = [resolve("bin/faultline.js"), "node", "--protocol", "raft", "--id", "n1", "--peers", "n2=127.0.0.1:1,n3=127.0.0.1:2"]
      const child = spawn(process.execPath, [...args, "--secret-file", secretFile, "--data", directory, "--listen", `127.0.0.1:${port}`])
      let stderr = ""
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const code = await new Promise<number | null>((resolvePromise) => child.on("exit", resolvePromise))
      // Check.
      expect(stderr).toContain(`127.0.0.1:${port}`)
      expect(stderr.trim().split("\n").at(-1)).toMatch(/^faultline: n1: cannot start: /)
      expect(code).toBe(2)
    } finally {
      blocker.close()
    }
  })
})

describe("the data directory's files are not trusted blindly", () => {
  it("a cluster description that is not JSON is one line and exit 2", () => {
    const directory = mkdtempSync(join(root, "damaged-"))
    writeFileSync(join(directory, "cluster.json"), "{ not json")
    const result = spawnSync(process.execPath, [resolve("bin/faultline.js"), "cluster", "status", "--data", directory], { encoding: "utf8" })
    expect(result.stderr).toContain("cluster.json: not a cluster description")
    expect(result.status).toBe(2)
    expect(readFileSync(join(directory, "cluster.json"), "utf8")).toBe("{ not json")
  })
})
