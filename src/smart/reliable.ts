/**
 * At-least-once delivery: the sender's table of messages awaiting an ACK
 * (resend timers with backoff, bounded retries, final failure) and the
 * receiver's window of recently delivered message ids (duplicate
 * suppression). Transport-free: the socket does the writing.
 *
 * Sender timeline of one message (defaults: ackTimeout 5 s, doubling, capped
 * at maxAckTimeout 30 s, maxRetries 5):
 *
 * ```
 * write#1 --5s--> write#2 --10s--> write#3 --20s--> ... write#6 --30s--> reject ENOTDELIVERED
 * ```
 *
 * A message waiting for a peer (none connected, or all busy) runs no timer:
 * the clock starts at its first transmission. When the connection that
 * carried a transmission is lost, the resend happens at once instead of
 * waiting for the timer.
 */
import { randomFillSync } from "node:crypto";
import { NotDeliveredError } from "../errors.js";
import type { Clock, TimerHandle } from "../connection/clock.js";
import { Queue } from "../util/queue.js";
import { MESSAGE_ID_LENGTH } from "./wire.js";

/** One at-least-once message awaiting its ACK. */
export interface PendingEntry {
  readonly id: Buffer;
  readonly key: string;
  readonly payload: Buffer;
  /** The identity it was addressed to, for identity sends; undefined for round-robin. */
  readonly identity: Buffer | undefined;
  /** Transmissions so far, plus resend turns that found no connection to use. */
  attempts: number;
  /** The connection that carried the last transmission (opaque to this module). */
  carrier: object | undefined;
  timer: TimerHandle | undefined;
  /** Settles on the ACK (resolves) or on final failure (rejects). */
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

export interface PendingOptions {
  ackTimeout: number;
  maxAckTimeout: number;
  maxRetries: number;
}

function noop(): void {}

/** Random bytes drawn from the CSPRNG in bulk: one call per 256 ids rather than one per message. */
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;

/** A fresh message id: the raw bytes of a UUIDv4 (122 random bits, version and variant set). */
export function newMessageId(): Buffer {
  if (idPoolOffset + MESSAGE_ID_LENGTH > idPool.length) {
    idPool = randomFillSync(Buffer.allocUnsafe(ID_POOL_BYTES));
    idPoolOffset = 0;
  }
  const id = Buffer.allocUnsafe(MESSAGE_ID_LENGTH);
  idPool.copy(id, 0, idPoolOffset, idPoolOffset + MESSAGE_ID_LENGTH);
  idPoolOffset += MESSAGE_ID_LENGTH;
  id[6] = (id[6]! & 0x0f) | 0x40;
  id[8] = (id[8]! & 0x3f) | 0x80;
  return id;
}

export class PendingSends {
  private readonly entries = new Map<string, PendingEntry>();

  /**
   * `retry(entry)` is called when an entry is due for another transmission:
   * the owner either sends it again (and calls {@link written}) or, finding
   * no connection for it, calls {@link skip}.
   */
  constructor(
    private readonly clock: Clock,
    private readonly options: PendingOptions,
    private readonly retry: (entry: PendingEntry) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Registers a new message; its `done` settles on its ACK or final failure. */
  create(payload: Buffer, identity: Buffer | undefined): PendingEntry {
    const id = newMessageId();
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Whoever sent the message awaits `done`; this keeps a rejection that
    // lands before that await from counting as unhandled.
    done.catch(noop);
    const entry: PendingEntry = {
      id, key: id.toString("hex"), payload, identity, attempts: 0, carrier: undefined, timer: undefined, done, resolve, reject,
    };
    this.entries.set(entry.key, entry);
    return entry;
  }

  has(entry: PendingEntry): boolean {
    return this.entries.get(entry.key) === entry;
  }

  /** The entry went out on `carrier`: counts a transmission and starts its ACK timer. */
  written(entry: PendingEntry, carrier: object): void {
    if (!this.has(entry)) return;
    entry.carrier = carrier;
    this.arm(entry);
  }

  /** A resend turn found no connection: counts the turn as an attempt and waits again. */
  skip(entry: PendingEntry): void {
    if (!this.has(entry)) return;
    entry.carrier = undefined;
    this.arm(entry);
  }

  /** An ACK arrived. Returns false for an id we do not (or no longer) wait for: a late or duplicate ACK. */
  ack(id: Buffer): boolean {
    const entry = this.entries.get(id.toString("hex"));
    if (entry === undefined) return false;
    this.settle(entry);
    entry.resolve();
    return true;
  }

  /** The connection `carrier` is gone: its unacknowledged entries are due now rather than at their timers. */
  carrierLost(carrier: object): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.carrier !== carrier || entry.timer === undefined) continue;
      this.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.carrier = undefined;
      this.due(entry);
    }
  }

  /** Fails one entry (e.g. its send was abandoned before transmission). */
  fail(entry: PendingEntry, error: Error): void {
    if (!this.has(entry)) return;
    this.settle(entry);
    entry.reject(error);
  }

  /** Fails every entry (the socket closed). */
  failAll(error: Error): void {
    for (const entry of [...this.entries.values()]) this.fail(entry, error);
  }

  private arm(entry: PendingEntry): void {
    entry.attempts++;
    const { ackTimeout, maxAckTimeout } = this.options;
    const wait = Math.min(ackTimeout * 2 ** (entry.attempts - 1), maxAckTimeout);
    if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
    entry.timer = this.clock.setTimeout(() => {
      entry.timer = undefined;
      this.due(entry);
    }, wait, true);
  }

  private due(entry: PendingEntry): void {
    if (!this.has(entry)) return;
    if (entry.attempts > this.options.maxRetries) {
      return this.fail(entry, new NotDeliveredError(
        `no ACK for message ${entry.key} after ${entry.attempts} attempts`,
      ));
    }
    this.retry(entry);
  }

  private settle(entry: PendingEntry): void {
    if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    this.entries.delete(entry.key);
  }
}

/**
 * The receiver's memory of delivered at-least-once message ids, bounded by
 * count and by age: an id is forgotten once `size` newer ids were delivered
 * or `timeMs` passed, whichever comes first. Sized to outlast the sender's
 * resend span, so a resend of a delivered message is recognised and only
 * acknowledged again.
 */
export class DedupWindow {
  /** Key -> delivery time. */
  private readonly seen = new Map<string, number>();
  /**
   * Keys and times in delivery order, oldest first, for eviction. A Map
   * iterated from its start would walk over the tombstones of every key
   * evicted before (V8 keeps them until a rehash): a cost per add that grows
   * with the window. An entry here whose key has since left `seen` (expired
   * in has()) is skipped when it reaches the front.
   */
  private readonly orderKeys = new Queue<string>();
  private readonly orderTimes = new Queue<number>();

  constructor(
    private readonly clock: Clock,
    private readonly size: number,
    private readonly timeMs: number,
  ) {}

  get length(): number {
    return this.seen.size;
  }

  has(key: string): boolean {
    const at = this.seen.get(key);
    if (at === undefined) return false;
    if (this.clock.now() - at > this.timeMs) {
      this.seen.delete(key);
      return false;
    }
    return true;
  }

  add(key: string): void {
    if (this.size === 0) return;
    const now = this.clock.now();
    // The inbox adds a key only when has() says it is absent or expired. A
    // key added again after expiring leaves its older entry in the order
    // queues, where the time no longer matches: it is skipped.
    this.seen.set(key, now);
    this.orderKeys.push(key);
    this.orderTimes.push(now);
    for (;;) {
      const oldest = this.orderKeys.peek();
      if (oldest === undefined) break;
      const at = this.orderTimes.peek()!;
      if (this.seen.get(oldest) === at) {
        if (this.seen.size <= this.size && now - at <= this.timeMs) break;
        this.seen.delete(oldest);
      }
      this.orderKeys.shift();
      this.orderTimes.shift();
    }
  }
}
