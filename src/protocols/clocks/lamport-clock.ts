// Lamport clocks: one counter per node, so that a happened-before b implies L(a) < L(b).

/** The timestamp of a local event or a send: one past the current value. */
export const tick = (current: number): number => current + 1

/** The value after receiving a message stamped `received`: past both the local and the remote value. */
export const receive = (current: number, received: number): number => Math.max(current, received) + 1
