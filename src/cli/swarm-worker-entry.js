// Entry of a swarm worker thread: registers tsx in this thread (Node 20 workers do not take --import), then runs the TypeScript worker.
import { register } from "tsx/esm/api"

register()
await import("./swarm-worker.ts")
