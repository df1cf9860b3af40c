// A swarm worker thread: loads the scenario once, then runs the seeds the main thread hands it.
import { parentPort, workerData } from "node:worker_threads"
import { runSeed } from "../sim/swarm.ts"
import { loadScenario } from "../sim/scenario.ts"
import { loadProtocols } from "./protocols.ts"

/** What the main thread gives a worker when it starts it. */
export interface WorkerSetup {
  readonly file: string
  readonly swarm: boolean
  readonly protocolsModule: string | undefined
  /** `--protocol`: runs this protocol in place of the scenario's own. */
  readonly protocol: string | undefined
}

const setup = workerData as WorkerSetup
const port = parentPort!
const loaded = loadScenario(setup.file)
const scenario = setup.protocol === undefined ? loaded : { ...loaded, protocol: setup.protocol }
const protocols = await loadProtocols(setup.protocolsModule)

port.on("message", (seeds: ReadonlyArray<number> | null) => {
  if (seeds === null) {
    port.close()
    return
  }
  for (const seed of seeds) port.postMessage(runSeed(scenario, seed, { swarm: setup.swarm, protocols }))
  port.postMessage("ready")
})
port.postMessage("ready")
