// A real quorum-store cluster of processes, driven by the CLI and curl's HTTP as the README tells a user to:
// siblings and a put that supersedes them, a node killed with SIGKILL while writes go on through a sloppy
// quorum, and hinted handoff bringing the restarted node what it missed, seen in its own replica and trace.
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { makePlacement, preferenceList } from "../src/protocols/hashring/index.ts"
import { parseTraceEvents, type TraceFileEvent } from "../src/trace/index.ts"
import { runCli } from "./fixtures/cli.ts"
import { clusterDataDirectory, httpJson } from "./fixtures/real-cluster.ts"
import { freeBasePort } from "./fixtures/real-ports.ts"

const data = clusterDataDirectory("faultline-quorum-cluster-")
const root = dirname(data)

const cli = (...args: Array<string>) => runCli([...args, "--data", data])

/** Each node's pid and state, as `cluster status` reports them. */
const status = (): Array<{ id: string; pid: number | null; state: string; role: string }> => JSON.parse(cli("cluster", "status", "--json").stdout).nodes

const http = httpJson

/** The events of node `id`'s trace file. */
const traceOf = (id: string): Array<TraceFileEvent> => {
  const events = parseTraceEvents(readFileSync(join(data, `${id}.trace.jsonl`), "utf8"), id)
  if (typeof events === "string") throw new Error(events)
  return events
}

/**
 * Whether `values` (a key's siblings) are `value`, once or more. A client sends a write that got no
 * answer to another node; when the first node was down, the network still delivers the first attempt
 * once it is back, and that node writes it too: two siblings of one value, as a Dynamo client sees.
 */
const onlyValue = (values: unknown, value: string): boolean =>
  Array.isArray(values) && values.length > 0 && values.every((sibling) => sibling === value)

const sleep = (ms: number) => new Promise((resolvePromise) => setTimeout(resolvePromise, ms))

describe("a real quorum-store cluster, from the command line", () => {
  it("keeps siblings, takes writes while a replica is down (sloppy quorum), and hands them back when it returns", async () => {
    // Set up: three processes, each key on N = 2 of them, a write durable on W = 2. With one of a
    // key's two owners down, a write succeeds only through a stand-in (the sloppy quorum). Anti-entropy
    // is off, so hinted handoff is the one way the restarted node can get what it missed.
    const base = await freeBasePort(3)
    const options = ["n=2", "r=1", "w=2", "antiEntropyIntervalMs=0"].flatMap((option) => ["--option", option])
    const up = cli("cluster", "up", "--protocol", "quorum", "--nodes", "3", "--base-port", String(base), ...options, "--detach")
    expect(up.stderr).toBe("")
    expect(up.stdout).toContain("quorum cluster of 3 nodes is up")
    expect(up.status).toBe(0)
    const endpoint = (index: number) => `127.0.0.1:${base + 100 + index}`

    // A put and a get with the client: a get prints the siblings and their context.
    expect(cli("client", "put", "greeting", "hello").stdout.trim()).toBe("ok")
    expect(cli("client", "get", "greeting").stdout).toMatch(/^\["hello"\] context \{"n\d":1\}\n$/)

    // Two blind writes over HTTP are concurrent: a get returns both, and a put naming their context supersedes them.
    expect(await http(endpoint(1), "/kv/color", { method: "PUT", body: JSON.stringify("red") })).toEqual({ status: 200, body: { ok: true } })
    expect(await http(endpoint(3), "/kv/color", { method: "PUT", body: JSON.stringify("blue") })).toEqual({ status: 200, body: { ok: true } })
    const siblings = JSON.parse(cli("client", "get", "color", "--json").stdout) as { values: Array<string>; context: Record<string, number> }
    expect([...siblings.values].sort()).toEqual(["blue", "red"])
    expect(cli("client", "put", "color", "purple", JSON.stringify(siblings.context)).stdout.trim()).toBe("ok")
    expect((await http(endpoint(2), "/kv/color")).body).toMatchObject({ values: ["purple"] })

    // Act: SIGKILL n2, then write keys it owns, with the client and over HTTP.
    const placement = makePlacement({ strategy: "consistent", nodes: ["n1", "n2", "n3"].map((id) => ({ id, weight: 1 })) })
    const missed = Array.from({ length: 40 }, (_, index) => `while-down-${index}`).filter((key) => preferenceList(placement, key, 2).includes("n2")).slice(0, 6)
    expect(missed).toHaveLength(6)
    const n2 = status().find((node) => node.id === "n2")!
    process.kill(n2.pid!, "SIGKILL")
    const put = cli("client", "put", missed[0]!, JSON.stringify(`value of ${missed[0]}`))
    expect(put.stderr).toBe("")
    expect(put.stdout.trim()).toBe("ok")
    for (const [index, key] of missed.slice(1).entries()) {
      const written = await http(endpoint(index % 2 === 0 ? 1 : 3), `/kv/${key}`, { method: "PUT", body: JSON.stringify(`value of ${key}`) })
      expect(written, key).toEqual({ status: 200, body: { ok: true } })
    }
    expect(cli("client", "get", missed[1]!).stdout).toMatch(new RegExp(`^\\["value of ${missed[1]}"(,"value of ${missed[1]}")*\\]`))
    expect(status().find((node) => node.id === "n2")!.state).toBe("stopped")

    // Check: each of those writes went to a stand-in with a hint for n2, as the other nodes' traces show.
    const standIns = ["n1", "n3"].flatMap((id) => traceOf(id)).filter((event) => event.name === "standIn" && event.attributes["owner"] === "n2")
    expect(new Set(standIns.map((event) => event.attributes["key"]))).toEqual(new Set(missed))

    // Act: restart n2.
    const again = cli("cluster", "up", "--detach")
    expect(again.stdout).toContain("restarted n2")

    // Check: hinted handoff delivers. Each stand-in hands its hint back and n2 acknowledges it (the
    // stand-in traces that), and n2's own replica (asked of n2 alone) then holds the write, with the
    // version its coordinator made (a dot of a node other than n2).
    const deadline = Date.now() + 30_000
    const pending = new Map<string, unknown>(missed.map((key) => [key, "not handed off"]))
    while (pending.size > 0 && Date.now() < deadline) {
      const handedOff = new Set(["n1", "n3"].flatMap((id) => traceOf(id)).filter((event) => event.name === "handedOff" && event.attributes["owner"] === "n2").map((event) => event.attributes["key"]))
      for (const key of [...pending.keys()].filter((key) => handedOff.has(key))) {
        const replica = await http(endpoint(2), `/kv/${key}/replica`)
        const context = (replica.body["context"] ?? {}) as Record<string, number>
        if (onlyValue(replica.body["values"], `value of ${key}`) && Object.keys(context).some((node) => node !== "n2")) pending.delete(key)
        else pending.set(key, replica.body)
      }
      if (pending.size > 0) await sleep(250)
    }
    expect(Object.fromEntries(pending)).toEqual({})
    expect(cli("client", "replica", missed[0]!, "n2").stdout).toMatch(new RegExp(`^\\["value of ${missed[0]}"(,"value of ${missed[0]}")*\\]`))
    // n2's trace says so too: after its restart, it stored each of them.
    const n2Trace = traceOf("n2")
    const restartedUs = n2Trace.filter((event) => event.name === "recover").at(-1)!.timeUs
    const storedAfter = n2Trace.filter((event) => event.name === "store" && event.timeUs >= restartedUs)
    for (const key of missed) {
      expect(storedAfter.some((event) => event.attributes["key"] === key && onlyValue(event.attributes["values"], `value of ${key}`)), key).toBe(true)
    }

    // Concurrent clients of the store's workload, then the store's checkers over every node's and client's trace.
    const load = cli("load", "--clients", "3", "--operations", "15")
    expect(load.stderr).toBe("")
    expect(load.stdout).toMatch(/^3 clients, 45 operations/)
    const verdict = cli("trace-check", "--json")
    const judged = JSON.parse(verdict.stdout) as { checks: Array<{ check: string; ok: boolean }>; violations: Array<unknown> }
    expect(judged.checks.map((check) => check.check)).toEqual(["no-lost-write", "siblings", "stale-read", "no-foreign-value"])
    expect(judged.violations).toEqual([])
    expect(verdict.status).toBe(0)
    expect(cli("cluster", "down").stdout).toContain("stopped n1, n2, n3")
  }, 120_000)
})

describe("a quorum cluster's bad input: one line and exit 2, before any process starts", () => {
  const refused = (result: ReturnType<typeof runCli>, message: string) => {
    expect(result.stderr.trim().split("\n"), result.stderr).toHaveLength(1)
    expect(result.stderr).toContain(message)
    expect(result.status).toBe(2)
  }

  it("an option the store refuses (r above n), and one that is not NAME=VALUE", () => {
    const nowhere = join(root, "refused")
    refused(runCli(["cluster", "up", "--protocol", "quorum", "--option", "r=5", "--data", nowhere]), "cluster up: --option r: 5 is more than n (3)")
    refused(runCli(["cluster", "up", "--protocol", "quorum", "--option", "r", "--data", nowhere]), '--option: expected NAME=VALUE (such as n=3), got "r"')
  })

  it("an operation the store does not have, and a context that is not one", () => {
    // A client with --peers reaches no process before it has read its operation.
    writeFileSync(join(root, "secret"), "a cluster secret of more than sixteen bytes\n")
    const peers = ["--peers", "n1=127.0.0.1:1,n2=127.0.0.1:2,n3=127.0.0.1:3", "--protocol", "quorum", "--secret-file", join(root, "secret")]
    refused(runCli(["client", "cas", "k", "1", "2", ...peers]), 'client: unknown operation "cas" for the quorum store (get, put, replica)')
    refused(runCli(["client", "put", "k", "v", "{not json", ...peers]), "client put: CONTEXT: expected a context as a get prints it")
    refused(runCli(["client", "put", "k", "v", '{"n1":-1}', ...peers]), "client put: CONTEXT: the counter of n1 must be a whole number of at least 0, got -1")
  })
})

describe("a quorum node's damaged file: it refuses to start, naming the file, and changes nothing", () => {
  it("an incarnation.json that is not JSON is one line and exit 2, with no stack trace", () => {
    // Set up: a node's data directory whose acknowledged value is intact but whose incarnation file
    // is garbage. Skipping it would restart request ids at incarnation 1, which earlier starts used.
    const directory = mkdtempSync(join(root, "damaged-quorum-"))
    const secretFile = join(root, "damaged.secret")
    writeFileSync(secretFile, "a cluster secret of more than sixteen bytes\n")
    const garbage = Buffer.from([0x7b, 0x22, 0x69, 0x6e, 0x00, 0xff, 0x17])
    writeFileSync(join(directory, "incarnation.json"), garbage)
    const store = JSON.stringify({ set: { context: { n1: 1 }, siblings: [{ version: { dot: { node: "n1", counter: 1 }, past: {} }, value: { value: "kept", timestampMs: 1 } }] }, recentPuts: ["c1:1"] })
    writeFileSync(join(directory, "store-k1.json"), store)
    // Act: start node n1 on it (its peers need not be up: it stops before it reaches them).
    const args = ["node", "--protocol", "quorum", "--id", "n1", "--listen", "127.0.0.1:0", "--peers", "n2=127.0.0.1:1,n3=127.0.0.1:2"]
    const result = spawnSync(process.execPath, [resolve("bin/faultline.js"), ...args, "--data", directory, "--secret-file", secretFile], { encoding: "utf8", timeout: 30_000 })
    // Check: one line naming the file and the line, exit 2, and both files as they were.
    expect(result.stderr.trim().split("\n"), result.stderr).toEqual([
      "faultline: n1: cannot start: incarnation.json line 1: not JSON (the file is damaged; restore it, or remove this node's data so it rejoins from its peers)"
    ])
    expect(result.status).toBe(2)
    expect(readFileSync(join(directory, "incarnation.json")).equals(garbage)).toBe(true)
    expect(readFileSync(join(directory, "store-k1.json"), "utf8")).toBe(store)
  }, 40_000)
})
