// Entry of a swarm worker thread. Compiled into dist/, it just runs the compiled worker: tsc rewrites
// the import below to "./swarm-worker.js". Run from source (the CLI under `node --import tsx`, the
// tests, the benchmarks), it registers tsx in this thread first, because Node 20 workers do not
// inherit the main thread's --import loader.
import { existsSync } from "node:fs"
import { URL } from "node:url"

if (existsSync(new URL("./swarm-worker.ts", import.meta.url))) {
  const { register } = await import("tsx/esm/api")
  register()
}
await import("./swarm-worker.ts")
