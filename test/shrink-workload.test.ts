// Shrinking the workload: each client's operations cut to what was invoked, counts lowered down to pairs and singles, and clients left out by number, on a planted bug and on a failure tied to one client.
import { describe, expect, it } from "vitest"
import type { Checker, ProtocolEvent, Violation } from "../src/check/checker.ts"
import type { ProtocolDefinition } from "../src/definition/protocol.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario, scenarioFromObject } from "../src/sim/scenario.ts"
import { reproSize, shrinkFailure } from "../src/sim/shrink.ts"
import { protocols as raftVariants } from "./fixtures/raft-bugs.ts"

const protocols = new Map<string, ProtocolDefinition>([...builtinProtocols, ...raftVariants.map((variant) => [variant.name, variant] as const)])

/** Reports a violation when client `process` invokes its `nth` operation: a failure only that client's operations can cause. */
class ClientOperationChecker implements Checker {
  readonly checks = ["client-3-fifth-operation"]
  readonly livenessChecks = []
  readonly violations: Array<Violation> = []
  private invoked = 0
  onEvent(event: ProtocolEvent): void {
    if (event.name !== "history" || event.attributes.process !== 3 || event.attributes.type !== "invoke") return
    this.invoked++
    if (this.invoked === 5) this.violations.push({ check: this.checks[0]!, message: "client 3 invoked its 5th operation", timeUs: event.timeUs })
  }
  finish(): void {}
}

const raft = builtinProtocols.get("raft")!
const clientThree: ProtocolDefinition = {
  ...raft,
  name: "raft-client-3",
  build: (run) => {
    const built = raft.build(run)
    return { ...built, checkers: [...built.checkers, new ClientOperationChecker()] }
  }
}

describe("shrinking clients and operations", () => {
  it("keeps only the client a failure needs, by leaving the others out, and only the operations it invoked", () => {
    // Set up: four clients of 200 operations; the failure is client 3's fifth operation.
    const scenario = scenarioFromObject({
      protocol: clientThree.name,
      nodes: 3,
      duration: "5s",
      liveness: "0s",
      workload: { clients: 4, operationsPerClient: 200, thinkMs: 20 },
      checks: ["client-3-fifth-operation"]
    })
    const withClientThree = new Map([...protocols, [clientThree.name, clientThree] as const])

    // Act
    const result = shrinkFailure(scenario, 1, { protocols: withClientThree, maxRuns: 80 })

    // Check: halving the count would lose client 3, so the others are left out by number; five operations each.
    expect(result.check).toBe("client-3-fifth-operation")
    expect(result.shrunk.workload.omitClients).toEqual([1, 2])
    expect(result.shrunk.workload.clients).toBe(3)
    expect(result.shrunk.workload.operationsPerClient).toBe(5)
    const size = reproSize(result.shrunkResult)
    expect([size.clients, size.operations]).toEqual([1, 5])
    expect(result.runs).toBeLessThanOrEqual(80)
  })

  it("a planted bug's repro has fewer clients and operations, fails the same check, and passes on the correct raft", () => {
    // Set up: the commit-old-term bug's own scenario with five clients; its first failing seed.
    const base = loadScenario("test/fixtures/raft-bug-commit-old-term.yaml")
    const scenario = { ...base, workload: { ...base.workload, clients: 5 } }
    const seed = [1, 2, 3, 4, 5, 6].find((candidate) => !runScenario(scenario, { seed: candidate, protocols }).ok)
    expect(seed, "a failing seed").toBeDefined()

    // Act
    const result = shrinkFailure(scenario, seed!, { protocols, maxRuns: 120 })

    // Check
    const before = reproSize(result.originalResult)
    const after = reproSize(result.shrunkResult)
    expect(result.check).toBe("node-failed")
    expect(after.clients!).toBeLessThan(before.clients!)
    expect(after.operations!).toBeLessThan(before.operations!)
    expect(after.faults).toBeLessThan(before.faults)
    expect(runScenario({ ...result.shrunk, protocol: "raft" }, { seed: seed!, protocols }).ok).toBe(true)
  })

  it("refuses a workload that leaves out a client it does not have, or every client", () => {
    const run = (workload: Record<string, unknown>) =>
      runScenario(scenarioFromObject({ protocol: "raft", nodes: 3, duration: "1s", liveness: "0s", workload }), { protocols })
    expect(() => run({ clients: 2, omitClients: [3] })).toThrow("workload.omitClients: there is no client 3 (clients: 2)")
    expect(() => run({ clients: 2, omitClients: [1, 2] })).toThrow("workload.omitClients: leaves out every client")
  })
})
