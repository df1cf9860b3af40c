// The Effect scheduler of the simulator: fibers run synchronously, and tasks they schedule wait in a FIFO that the simulator drains.
import type { Fiber, Scheduler } from "effect"

/**
 * Effect's scheduler, replaced so that nothing escapes to real timers or microtasks. Every task a
 * fiber schedules (a yield, a forked child, a latch release) goes onto one FIFO; the simulator drains
 * it after each event, before simulated time moves on. Priorities are ignored: FIFO order is
 * deterministic, and that is all the simulator needs.
 */
export class SimulatorScheduler implements Scheduler.Scheduler {
  readonly executionMode = "sync" as const
  private readonly tasks: Array<() => void> = []
  private draining = false
  private readonly dispatcher: Scheduler.SchedulerDispatcher = {
    scheduleTask: (task) => {
      this.tasks.push(task)
    },
    flush: () => this.drain()
  }

  /** Fibers yield after this many operations, so a busy fiber cannot starve the others forever. */
  constructor(private readonly maxOperationsBeforeYield = 2048) {}

  shouldYield(fiber: Fiber.Fiber<unknown, unknown>): boolean {
    return fiber.currentOpCount >= this.maxOperationsBeforeYield
  }

  makeDispatcher(): Scheduler.SchedulerDispatcher {
    return this.dispatcher
  }

  /** Runs queued tasks, and the tasks they queue, until none is left. */
  drain(): void {
    if (this.draining || this.tasks.length === 0) return
    this.draining = true
    const tasks = this.tasks
    try {
      let index = 0
      while (index < tasks.length) {
        const task = tasks[index]!
        index++
        task()
        // Compact now and then so a long chain of yields does not grow the array without bound.
        if (index > 4096) {
          tasks.splice(0, index)
          index = 0
        }
      }
      tasks.length = 0
    } finally {
      this.draining = false
    }
  }
}
