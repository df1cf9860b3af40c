// A real three-node search cluster of processes, driven by the CLI and HTTP as the README tells a user to: the search
// workload's inserts and queries through `faultline load`, judged by `trace-check` with the checker the simulator uses,
// and its recall compared with a simulated run of the same data and queries; then a node killed and restarted.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { scenarioFromObject } from "../src/sim/scenario.ts"
import { parseTraceEvents } from "../src/trace/index.ts"
import { runCli } from "./fixtures/cli.ts"
import { clusterDataDirectory, httpJson } from "./fixtures/real-cluster.ts"
import { freeBasePort } from "./fixtures/real-ports.ts"

const data = clusterDataDirectory("faultline-search-cluster-")

const cli = (...args: Array<string>) => runCli([...args, "--data", data])

/**
 * The workload both worlds run: 3,000 clustered 64-dimensional vectors from two clients, then 50 queries each, at
 * ef 16 (8 per shard). At the default ef 64 both worlds find every neighbour (recall 1.0000), which would compare
 * nothing; at ef 16 a query misses about one neighbour in a hundred, so a difference between the worlds would show.
 */
const VECTORS = 3000
const CLIENTS = 2
const QUERIES_PER_CLIENT = 50
const EF = 16

/** The mean recall and the counts of queries the search checker's note states. */
const recallOf = (note: string | undefined): { recall: number; queries: number; partial: number; complete: number } => {
  const match = /search: (\d+) queries \((\d+) partial\), recall@10 ([\d.]+) over (\d+) complete/.exec(note ?? "")
  if (match === null) throw new Error(`no search note in ${JSON.stringify(note)}`)
  return { queries: Number(match[1]), partial: Number(match[2]), recall: Number(match[3]), complete: Number(match[4]) }
}

describe("a real search cluster, from the command line", () => {
  it("answers the workload's queries with the recall of the simulated cluster, and keeps its vectors across a kill -9", async () => {
    // Set up: three processes, four shards (the default), each shard on all three nodes, writes durable on two.
    const base = await freeBasePort(3)
    const up = cli("cluster", "up", "--protocol", "search", "--nodes", "3", "--base-port", String(base), "--detach")
    expect(up.stderr).toBe("")
    expect(up.stdout).toContain("search cluster of 3 nodes is up")
    expect(up.status).toBe(0)

    // Act: the search workload's own clients insert the vectors (and delete every tenth), then query.
    const load = cli("load", "--clients", String(CLIENTS), "--operations", String(QUERIES_PER_CLIENT), "--workload", `vectors=${VECTORS}`, "--workload", `ef=${EF}`)
    expect(load.stderr).toBe("")
    expect(load.stdout).toContain(`queryResult ${CLIENTS * QUERIES_PER_CLIENT}`)
    expect(load.status).toBe(0)

    // Check: the simulator's search checker, over the nodes' and clients' traces, finds every rule kept and recall@10 high.
    const verdict = cli("trace-check", "--json")
    expect(verdict.status).toBe(0)
    const report = JSON.parse(verdict.stdout) as { checks: Array<{ check: string; ok: boolean }>; notes: Array<string> }
    expect(report.checks.filter((check) => !check.ok)).toEqual([])
    expect(report.checks.map((check) => check.check)).toContain("recall")
    const real = recallOf(report.notes.find((note) => note.startsWith("search:")))
    expect(real.queries).toBe(CLIENTS * QUERIES_PER_CLIENT)
    expect(real.partial).toBe(0)
    expect(real.recall).toBeGreaterThanOrEqual(0.95)

    // The same data, queries and options in the simulator, with no faults. The indexes are not byte-identical (each
    // replica's graph follows the order its writes arrived in, which the two networks decide differently), so the
    // comparison is of mean recall@10 over the same 100 queries, within 0.02 (20 of the 1,000 neighbours; measured
    // apart by at most 0.004: 0.988 to 0.991 real, 0.987 simulated). The simulated recall must be below 1, or nothing was compared.
    const simulated = runScenario(scenarioFromObject({
      protocol: "search",
      nodes: 3,
      duration: "60s",
      liveness: "1s",
      workload: { vectors: VECTORS, clients: CLIENTS, queriesPerClient: QUERIES_PER_CLIENT, ef: EF }
    }), { seed: 1, protocols: builtinProtocols })
    expect(simulated.checks.filter((check) => !check.ok)).toEqual([])
    const sim = recallOf(simulated.notes.find((note) => note.startsWith("search:")))
    expect(sim.complete).toBe(real.complete)
    expect(Math.abs(real.recall - sim.recall)).toBeLessThanOrEqual(0.02)
    expect(sim.recall).toBeLessThan(1)

    // A query from the command line and over HTTP: vector 7 of the data set is its own nearest neighbour.
    const query = cli("client", "query", "7", "3")
    expect(query.status).toBe(0)
    expect(query.stdout).toMatch(/^7 0\.00000\n\d+ [\d.]+\n\d+ [\d.]+\ncomplete/)
    const overHttp = await httpJson(`127.0.0.1:${base + 101}`, "/query", { method: "POST", body: JSON.stringify({ index: 7, k: 3 }) })
    expect(overHttp.status).toBe(200)
    expect((overHttp.body["ids"] as Array<number>)[0]).toBe(7)
    expect(overHttp.body["partial"]).toBe(false)

    // Bad input is one line and exit 2: a vector of the wrong dimension.
    const wrong = cli("client", "query", "[1, 2]")
    expect(wrong.status).toBe(2)
    expect(wrong.stderr).toBe("faultline: client query: INDEX|VECTOR: the cluster's vectors have 64 dimensions, this one has 2\n")

    // A node killed with SIGKILL: every shard has two other replicas, so a query is still complete; an insert
    // reaches its write quorum and says which replicas it could not reach.
    const nodes = JSON.parse(cli("cluster", "status", "--json").stdout).nodes as Array<{ id: string; pid: number }>
    process.kill(nodes.find((node) => node.id === "n2")!.pid, "SIGKILL")
    expect(cli("client", "query", "7", "3").stdout).toContain("complete")
    const inserted = cli("client", "insert", "20", "10000")
    expect(inserted.status).toBe(0)
    expect(inserted.stdout).toMatch(/^inserted 20, each durable on a write quorum; not yet on every replica/)

    // Restarted, it rebuilds every shard's index from its synced log, and serves again.
    expect(cli("cluster", "up", "--detach").status).toBe(0)
    const trace = parseTraceEvents(readFileSync(join(data, "n2.trace.jsonl"), "utf8"), "n2")
    if (typeof trace === "string") throw new Error(trace)
    const recovered = trace.filter((event) => event.name === "recover").slice(-4)
    expect(recovered.map((event) => event.attributes["shard"]).sort()).toEqual(["s0", "s1", "s2", "s3"])
    expect(recovered.reduce((sum, event) => sum + (event.attributes["size"] as number), 0)).toBe(VECTORS - VECTORS / 10)
    const after = cli("client", "query", "7", "1")
    expect(after.stdout).toMatch(/^7 0\.00000\ncomplete/)
    expect(cli("trace-check").status).toBe(0)
  }, 90_000)
})

describe("the search's real client reads requests", () => {
  // The client a three-node cluster with default options gets: 64 dimensions, 4 shards.
  const client = builtinProtocols.get("search")!.build({ file: "test", protocol: "search", nodes: 3, options: {}, workload: {} }).realClient!
  const http = (method: string, path: string, body: unknown) =>
    client.fromHttp({ node: "n1", method, path, header: () => undefined, body: JSON.stringify(body) })

  it("generates the cluster's data set, the vectors the simulated workload inserts", () => {
    const parsed = client.fromArguments("insert", ["3", "10"])
    expect(parsed._tag).toBe("Operation")
    const vectors = (parsed as { operation: { vectors: Array<{ id: number; vector: Array<number> }> } }).operation.vectors
    expect(vectors.map((entry) => entry.id)).toEqual([10, 11, 12])
    expect(vectors[0]!.vector).toHaveLength(64)
    // The same request over HTTP is the same operation.
    expect(http("POST", "/vectors", { count: 3, first: 10 })).toEqual(parsed)
  })

  it("names what is wrong in one line", () => {
    expect(client.fromArguments("insert", ["0"])).toEqual({ _tag: "Invalid", message: "client insert: COUNT: expected a whole number from 1 to 100000, got \"0\"" })
    expect(client.fromArguments("query", ["7", "ten"])).toEqual({ _tag: "Invalid", message: "client query: K: expected a whole number from 1 to 1000, got \"ten\"" })
    expect(client.fromArguments("get", ["7"])).toMatchObject({ _tag: "Invalid", message: expect.stringContaining("unknown operation \"get\" for the search protocol") })
    expect(http("POST", "/query", { vector: [1, 2] })).toEqual({ _tag: "Invalid", message: "vector (or index): the cluster's vectors have 64 dimensions, this one has 2" })
    expect(http("POST", "/vectors", { vectors: [{ id: 1, vector: Array(64).fill(0) }, { id: 1, vector: Array(64).fill(1) }] })).toEqual({ _tag: "Invalid", message: "vectors: id 1 is given twice" })
    expect(http("GET", "/kv/x", {})._tag).toBe("NotFound")
  })
})
