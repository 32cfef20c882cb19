// A deterministic Clock for tests: time moves only when the test calls
// tick(), and due timers run in order of due time, then of scheduling.
import type { Clock } from "../../src/index.js";

interface Timer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/** The handle FakeClock hands out; opaque to the code under test. */
export interface FakeTimerHandle {
  readonly id: number;
}

export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): FakeTimerHandle {
    const id = this.nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.timers.set(id, { id, due: this.current + delay, fn });
    return { id };
  }

  clearTimeout(handle: object): void {
    const id = (handle as Partial<FakeTimerHandle>).id;
    if (typeof id === "number") this.timers.delete(id);
  }

  /** Timers scheduled and not yet run or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the earliest pending timer is due, if any. */
  nextDue(): number | undefined {
    return this.earliest()?.due;
  }

  /**
   * Advances time by `ms`, running every timer due by then, in order. Timers
   * that those timers schedule run too when they fall due within the window.
   * Returns how many timers ran.
   */
  tick(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`cannot tick by ${ms}`);
    const target = this.current + ms;
    let ran = 0;
    for (;;) {
      const timer = this.earliest();
      if (timer === undefined || timer.due > target) break;
      this.timers.delete(timer.id);
      this.current = timer.due;
      ran++;
      timer.fn();
    }
    this.current = target;
    return ran;
  }

  /** Advances to the earliest pending timer and runs the timers due then. Returns the time advanced by. */
  tickToNext(): number {
    const due = this.nextDue();
    if (due === undefined) return 0;
    const step = due - this.current;
    this.tick(step);
    return step;
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    // Map iteration follows insertion, and ids grow with scheduling order,
    // so the first timer with the smallest due time is the one to run.
    for (const timer of this.timers.values()) if (best === undefined || timer.due < best.due) best = timer;
    return best;
  }
}
