/**
 * Request deadlines without a timer per request. Requests are kept in
 * insertion order per timeout value, so each list is already sorted by
 * deadline; one timer is armed for the earliest deadline of all. Settling a
 * request only marks it (settled entries are trimmed when the timer fires);
 * when nothing is pending, the timer is cleared.
 * Cost per request: O(1), instead of creating and clearing a timer.
 */
import type { Clock, TimerHandle } from "../connection/clock.js";
import { Queue } from "../util/queue.js";

export interface Deadline {
  readonly at: number;
  /** False once settled or expired: the entry is skipped when it comes due. */
  live: boolean;
  expire(): void;
}

export class Deadlines {
  private readonly lists = new Map<number, Queue<Deadline>>();
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  /** Entries neither settled nor expired; at 0 the timer goes, so nothing keeps the process alive. */
  private pending = 0;

  constructor(private readonly clock: Clock) {}

  /** The request was answered: its deadline no longer matters. */
  settle(deadline: Deadline): void {
    if (!deadline.live) return;
    deadline.live = false;
    if (--this.pending === 0) this.clear();
  }

  /** Schedules `expire` after `timeoutMs`, unless the returned entry is settled first (live = false). */
  add(timeoutMs: number, expire: () => void): Deadline {
    const deadline: Deadline = { at: this.clock.now() + timeoutMs, live: true, expire };
    this.pending++;
    let list = this.lists.get(timeoutMs);
    if (!list) this.lists.set(timeoutMs, (list = new Queue()));
    list.push(deadline);
    if (deadline.at < this.timerAt) this.arm(deadline.at);
    return deadline;
  }

  /** Cancels everything (shutdown); nothing expires afterwards. */
  clear(): void {
    this.pending = 0;
    this.lists.clear();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()), true);
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [timeout, list] of this.lists) {
      for (let head = list.peek(); head; head = list.peek()) {
        if (!head.live) {
          list.shift();
          continue;
        }
        if (head.at > now) break;
        list.shift();
        head.live = false;
        this.pending--;
        head.expire();
      }
      const head = list.peek();
      if (head) next = Math.min(next, head.at);
      else this.lists.delete(timeout);
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.timerAt) this.arm(next);
  }
}
