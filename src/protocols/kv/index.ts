// The key-value layer every store shares: client waits, workload choices and history reports.
export { awaitReply } from "./await-reply.ts"
export { HISTORY_EVENT, type HistoryReport, type KvFunction, type KvWorkloadOptions, historyRecorder, pickWeighted } from "./workload.ts"
export { chooseKey, MIX_NAMES, type MixName, type Placement, PLACEMENTS, pinnedServer } from "./workload-shape.ts"
