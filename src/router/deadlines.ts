/**
 * Request deadlines without a timer per request. Requests are kept in
 * insertion order per timeout value, so each list is already sorted by
 * deadline; one timer is armed for the earliest deadline of all; when
 * nothing is pending, the timer is cleared.
 * Cost per request: O(1), instead of creating and clearing a timer.
 *
 * Settling a request marks its entry and lets go of what would expire
 * (a callback or object that holds the request), so a settled entry costs a few bytes until it
 * leaves its list. Entries leave from the head as they settle (the usual
 * order), and a list where settled entries pile up behind an old pending
 * one is compacted: under constant traffic a list holds about as many
 * entries as there are pending requests, not every request of the last
 * timeout period.
 */
import type { Clock, TimerHandle } from "../connection/clock.js";
import { Queue } from "../util/queue.js";

export interface Deadline {
  readonly at: number;
  /** False once settled or expired: the entry is skipped when it comes due. */
  live: boolean;
  expire(): void;
}

/** What expires: a callback, or an object whose expire() is called (no closure per request). */
export type Expiry = (() => void) | { expire(): void };

/** A list of entries is compacted when it is longer than this and mostly settled. */
const COMPACT_MIN = 64;

function ignore(): void {}

interface List {
  entries: Queue<Entry>;
  /** Entries of the list that are neither settled nor expired. */
  live: number;
}

class Entry implements Deadline {
  live = true;
  constructor(
    readonly at: number,
    public target: Expiry,
    readonly list: List,
  ) {}

  expire(): void {
    const target = this.target;
    this.target = ignore;
    if (typeof target === "function") target();
    else target.expire();
  }
}

export class Deadlines {
  private readonly lists = new Map<number, List>();
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  /** Entries neither settled nor expired; at 0 the timer goes, so nothing keeps the process alive. */
  private pending = 0;

  constructor(private readonly clock: Clock) {}

  /** The request was answered: its deadline no longer matters. */
  settle(deadline: Deadline): void {
    if (!deadline.live) return;
    deadline.live = false;
    if (!(deadline instanceof Entry)) return;
    deadline.target = ignore;
    if (--this.pending === 0) {
      this.clear();
      return;
    }
    const list = deadline.list;
    list.live--;
    const entries = list.entries;
    while (entries.peek()?.live === false) entries.shift();
    if (entries.length > COMPACT_MIN && entries.length > 4 * list.live) {
      const kept = new Queue<Entry>();
      for (const entry of entries) if (entry.live) kept.push(entry);
      list.entries = kept;
    }
  }

  /** Schedules `expire` after `timeoutMs`, unless the returned entry is settled first (live = false). */
  add(timeoutMs: number, expire: Expiry): Deadline {
    let list = this.lists.get(timeoutMs);
    if (!list) this.lists.set(timeoutMs, (list = { entries: new Queue(), live: 0 }));
    const deadline = new Entry(this.clock.now() + timeoutMs, expire, list);
    this.pending++;
    list.live++;
    list.entries.push(deadline);
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
      const entries = list.entries;
      for (let head = entries.peek(); head; head = entries.peek()) {
        if (!head.live) {
          entries.shift();
          continue;
        }
        if (head.at > now) break;
        entries.shift();
        head.live = false;
        list.live--;
        this.pending--;
        head.expire();
      }
      const head = entries.peek();
      if (head) next = Math.min(next, head.at);
      else this.lists.delete(timeout);
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.timerAt) this.arm(next);
  }
}
