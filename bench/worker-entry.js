// Runs one benchmark function in a worker thread, so that it starts from a fresh JIT: code shared
// with an earlier benchmark (the simulator ran the token protocol first) is otherwise optimized for
// the other protocol's shapes. Registers tsx in this thread (Node 20 workers do not take --import).
import { parentPort, workerData } from "node:worker_threads"
import { register } from "tsx/esm/api"

register()
const module = await import(workerData.module)
parentPort.postMessage(await module[workerData.name](...workerData.args))
