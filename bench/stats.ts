// Measurement helpers shared by the raw and socket-API workers, plus the
// number formatting used by the result table.

/** Monotonic clock in nanoseconds (as a plain number; precise enough below ~100 days). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Nearest-rank percentile of an already sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const idx = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[idx] ?? NaN;
}

export interface ThroughputResult {
  kind: "throughput";
  msgsPerSec: number;
  mbPerSec: number;
  count: number;
  seconds: number;
  /** CPU time (user + system) per measured message in the receiving process, in microseconds. */
  recvCpuUs?: number;
  /** The same in the sending process, when it reported it. */
  sendCpuUs?: number;
}

/**
 * CPU time of this whole process (every thread: libuv's and native
 * libraries' too) between start() and perMessage(), per message. It moves
 * far less with other load on the machine than a rate does.
 */
export class CpuMeter {
  private from: NodeJS.CpuUsage | undefined;

  start(): void {
    this.from = process.cpuUsage();
  }

  /** Microseconds of CPU per message for `count` messages since start(). */
  perMessage(count: number): number {
    if (this.from === undefined) throw new Error("CpuMeter.perMessage() before start()");
    const used = process.cpuUsage(this.from);
    return (used.user + used.system) / count;
  }
}

export interface LatencyResult {
  kind: "latency";
  p50Us: number;
  p99Us: number;
  meanUs: number;
  count: number;
}

export interface RequestRateResult {
  kind: "rate";
  reqPerSec: number;
  count: number;
  seconds: number;
}

export interface PubSubResult {
  kind: "pubsub";
  msgsPerSec: number;
  lossPct: number;
  published: number;
  received: number;
  seconds: number;
}

export type CellResult = ThroughputResult | LatencyResult | RequestRateResult | PubSubResult;

/**
 * Counts arrivals on a push/pull receiver. The clock starts when the last
 * warm-up message arrives and stops at the last measured one, so the figure
 * covers exactly `count` messages of a stream that is already flowing.
 */
export class ArrivalCounter {
  private seen = 0;
  private t0 = 0;
  private readonly cpu = new CpuMeter();
  constructor(
    private readonly warmup: number,
    private readonly count: number,
    private readonly size: number,
  ) {
    if (warmup < 1) throw new Error("warm-up must be at least one message");
  }

  /** Returns the result once the final message has arrived, else undefined. */
  arrive(): ThroughputResult | undefined {
    this.seen++;
    if (this.seen === this.warmup) {
      this.t0 = nowNs();
      this.cpu.start();
    }
    if (this.seen !== this.warmup + this.count) return undefined;
    const seconds = (nowNs() - this.t0) / 1e9;
    const msgsPerSec = this.count / seconds;
    const recvCpuUs = this.cpu.perMessage(this.count);
    return { kind: "throughput", msgsPerSec, mbPerSec: (msgsPerSec * this.size) / 1e6, count: this.count, seconds, recvCpuUs };
  }
}

/** Sequence number used for the probes that confirm a subscription is live. */
export const PROBE_SEQ = 0xffffffff;

/**
 * Tracks a pub/sub stream in which each message starts with a u32-BE
 * sequence number: warm-up messages are 0..warmup-1, measured ones follow.
 * Loss is exact because every measured sequence number is accounted for.
 */
export class SequenceTracker {
  private readonly got: Uint8Array;
  private received = 0;
  private tFirst = 0;
  private tLast = 0;
  private probeSeen = false;
  constructor(
    private readonly warmup: number,
    private readonly count: number,
  ) {
    this.got = new Uint8Array(count);
  }

  /** Feeds one message; returns "probe" for the first probe, "last" when the final sequence number arrives. */
  arrive(msg: Buffer): "probe" | "last" | undefined {
    if (msg.length < 4) return undefined;
    const seq = msg.readUInt32BE(0);
    if (seq === PROBE_SEQ) {
      if (this.probeSeen) return undefined;
      this.probeSeen = true;
      return "probe";
    }
    const i = seq - this.warmup;
    if (i < 0 || i >= this.count || this.got[i] === 1) return undefined;
    this.got[i] = 1;
    const t = nowNs();
    if (this.received === 0) this.tFirst = t;
    this.tLast = t;
    this.received++;
    return i === this.count - 1 ? "last" : undefined;
  }

  result(): PubSubResult {
    const seconds = (this.tLast - this.tFirst) / 1e9;
    // Rate over the intervals between the first and last delivered message.
    const msgsPerSec = this.received > 1 && seconds > 0 ? (this.received - 1) / seconds : 0;
    return {
      kind: "pubsub",
      msgsPerSec,
      lossPct: (100 * (this.count - this.received)) / this.count,
      published: this.count,
      received: this.received,
      seconds,
    };
  }
}

/** Builds a latency result from per-round-trip samples in microseconds. */
export function latencyResult(samplesUs: Float64Array): LatencyResult {
  const sorted = Float64Array.from(samplesUs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    kind: "latency",
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    meanUs: sum / sorted.length,
    count: sorted.length,
  };
}

// ---- formatting ------------------------------------------------------------

/** 1234567 -> "1.23M", 45600 -> "45.6k". */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return "-";
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** Three significant digits, no unit. */
export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return "-";
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function fmtPct(n: number): string {
  if (!Number.isFinite(n)) return "-";
  if (n === 0) return "0%";
  return `${n < 0.01 ? n.toPrecision(1) : n.toFixed(2)}%`;
}

export function fmtRatio(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? "-" : `${n.toFixed(2)}x`;
}

/** Renders rows as a plain-text table with a header separator. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join(" | ")
      .trimEnd();
  const sep = widths.map((w) => "-".repeat(w)).join("-+-");
  return [line(header), sep, ...rows.map(line)].join("\n");
}
