// Planted bugs against swarm: per bug, how many seeds and seconds `faultline swarm --stop-on-first`
// over its shipped scenario takes to the first failure, and how small the shrunk repro is (and that
// it passes on the correct protocol). Usage: npm run bench:bugs [-- protocol-name ...]
import { availableParallelism } from "node:os"
import { runSwarm } from "../src/cli/swarm-command.ts"
import { loadProtocols } from "../src/cli/protocols.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { reproSize, shrinkFailure } from "../src/sim/shrink.ts"
import { swarmScenario } from "../src/sim/swarm-faults.ts"
import { swarmCaughtBugs, type SwarmCaughtBug } from "../test/fixtures/planted-bugs.ts"

const TIME_LIMIT_MS = 120_000
const MAX_SHRINK_RUNS = 400

interface Row {
  readonly bug: string
  readonly found: string
  readonly repro: string
}

const benchBug = async (bug: SwarmCaughtBug): Promise<Row> => {
  const report = await runSwarm({
    file: bug.scenario,
    seeds: Array.from({ length: 10_000 }, (_, index) => index + 1),
    workers: availableParallelism(),
    swarm: true,
    protocolsModule: bug.module,
    protocol: bug.protocol,
    timeLimitMs: TIME_LIMIT_MS,
    stopOnFirst: true
  })
  // The lowest failing seed, not the first to finish: with two workers, seed 2 may fail before
  // seed 1 does, and the table should say the same seed whichever worker was quicker.
  const failed = report.outcomes.filter((outcome) => !outcome.ok).sort((left, right) => left.seed - right.seed)[0]
  const seconds = (report.wallMs / 1000).toFixed(1)
  if (failed === undefined) return { bug: bug.protocol, found: `not caught in ${report.outcomes.length} seeds, ${seconds} s`, repro: "" }
  const found = `seed ${failed.seed} (${report.outcomes.length} seeds run), ${seconds} s, ${failed.firstViolation?.check}`
  const protocols = await loadProtocols(bug.module)
  const loaded = { ...loadScenario(bug.scenario), protocol: bug.protocol }
  const drawn = swarmScenario(loaded, failed.seed, protocols).scenario
  const started = performance.now()
  const shrunk = shrinkFailure(drawn, failed.seed, {
    protocols,
    maxRuns: MAX_SHRINK_RUNS,
    knobDefaults: loaded.options,
    workloadDefaults: loaded.workload,
    ownLatency: loaded.network.defaults.latency
  })
  const shrinkSeconds = ((performance.now() - started) / 1000).toFixed(1)
  const size = reproSize(shrunk.shrunkResult)
  const correct = runScenario({ ...shrunk.shrunk, protocol: bug.correct }, { seed: failed.seed, protocols })
  const repro =
    `${size.faults} faults, ${size.clients ?? "-"} clients, ${size.operations ?? "-"} operations, ` +
    `${(size.simulatedMs / 1000).toFixed(3)} s simulated (shrunk in ${shrunk.runs} runs, ${shrinkSeconds} s); ${correct.ok ? "passes" : "FAILS"} on ${bug.correct}`
  return { bug: bug.protocol, found, repro }
}

const only = process.argv.slice(2)
const bugs = swarmCaughtBugs.filter((bug) => only.length === 0 || only.includes(bug.protocol))
console.log(`| bug | first failure (swarm --stop-on-first, ${availableParallelism()} workers) | shrunk repro |`)
console.log("|---|---|---|")
for (const bug of bugs) {
  const row = await benchBug(bug)
  console.log(`| ${row.bug} | ${row.found} | ${row.repro} |`)
}
