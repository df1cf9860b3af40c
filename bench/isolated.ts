// Runs an exported benchmark function in a worker thread of its own (see worker-entry.js).
import { Worker } from "node:worker_threads"

export const runIsolated = <A>(module: URL, name: string, args: ReadonlyArray<unknown>): Promise<A> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./worker-entry.js", import.meta.url), {
      workerData: { module: module.href, name, args }
    })
    worker.once("message", (result: A) => {
      resolve(result)
      void worker.terminate()
    })
    worker.once("error", reject)
  })
