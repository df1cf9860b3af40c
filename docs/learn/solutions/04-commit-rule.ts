// Chapter 4, a reference solution: §5.4.2, count replicas only for entries of the leader's own term.
import type { RaftRules } from "../../../src/protocols/raft/types.ts"
import { raftProtocol } from "../../../src/protocols/raft/definition.ts"

/** Only an entry of the current term commits by counting; earlier entries commit with it (Figure 8). */
export const commitByCounting: RaftRules["commitByCounting"] = ({ entryTerm, currentTerm }) => entryTerm === currentTerm

export const protocols = [raftProtocol("raft-exercise", { config: (config) => ({ ...config, rules: { commitByCounting } }) })]
