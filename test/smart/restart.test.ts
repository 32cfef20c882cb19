// The bind side restarted under load: a child process (restart-sink.ts) binds
// and records what it receives; this process connects and sends N numbered
// messages while killing the child with SIGKILL and starting it again on the
// same port K times.
//
// Accounting. A message counts as delivered when the child's record file
// holds it. The child appends each message there with a synchronous write(2)
// right after recv() resolves, and that write lands before the message's ACK
// can leave the child (see restart-sink.ts), so a SIGKILL can never leave an
// ACKed message unrecorded. A message the child received but had not yet
// recorded was not delivered: it was not ACKed either (the ACK would have
// left after the record), so at-least-once resends it. The IPC reports the
// child sends only drive the test (when to kill, how far the sender may run
// ahead) and are never used for the verdicts. Those still queued in a child
// die with it, so progress is counted as the records of the incarnations
// already killed (read from the file once each has exited) plus the count
// the live one last reported.
//
// Pacing. The kills are triggered by progress: kill i happens once
// i*N/(K+1) messages were recorded. So that kills land mid-stream, the
// sender keeps at most WINDOW messages in flight: at-least-once, WINDOW
// sends not yet acknowledged; at-most-once, WINDOW messages beyond the
// progress, plus WINDOW more per restart (messages in flight at a kill may
// never be recorded, and must not stall the sender). So each kill costs at
// most WINDOW duplicates, and all kills together at most WINDOW*K losses.
// A kill follows a report, which the child sends right after recording a
// message and before that message's ACK leaves with the next write batch,
// so kills tend to land inside that window: the duplicate count is a worst
// case, not a typical one.
//
// Verdicts:
// - at-least-once: no send() rejects, every message 0..N-1 is recorded at
//   least once; duplicates (a record whose ACK died with the child, resent
//   to the next one, which has no memory of it) are counted and reported.
// - at-most-once: no message is recorded twice; losses are counted.
// Both: the marker "done", sent once the last restart is connected, arrives,
// and every incarnation of the child received messages.
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { SmartSocket } from "../../src/index.js";

const SINK = fileURLToPath(new URL("./restart-sink.js", import.meta.url));
const N = 2000;
const K = 5;
const STEP = Math.floor(N / (K + 1));
const WINDOW = 50;
/** Bound on each wait of a run (child start, sending, the last messages). */
const PHASE_MS = 10_000;
// At-most-once may lose up to WINDOW messages per kill; what is left must
// still reach the last kill's threshold, or the run would stall.
assert.ok(N - WINDOW * K > K * STEP, "WINDOW too large for N and K");

type Delivery = "at-least-once" | "at-most-once";

interface Report {
  bound?: number;
  received?: number;
  done?: true;
}

/** Wakes every waiter whenever something the runs wait on may have changed. */
class Signal {
  private waiters: Array<() => void> = [];
  notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** One incarnation of the child. */
class Sink {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly bound: Promise<number>;
  private stderr = "";
  private killed = false;

  constructor(port: number, record: string, readonly incarnation: number, onReport: (report: Report, sink: Sink) => void, onCrash: (error: Error) => void) {
    // execArgv: [] so the test runner's own flags do not reach the child.
    this.child = fork(SINK, [String(port), record, String(incarnation)], { stdio: ["ignore", "ignore", "pipe", "ipc"], execArgv: [] });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = once(this.child, "exit").then(([code, signal]) => {
      if (!this.killed) onCrash(new Error(`sink ${incarnation} exited by itself (${String(code ?? signal)}): ${this.stderr}`));
    });
    this.bound = new Promise<number>((resolve, reject) => {
      this.child.on("message", (message: Report) => {
        if (message.bound !== undefined) resolve(message.bound);
        else onReport(message, this);
      });
      void this.exited.then(() => reject(new Error(`sink ${incarnation} exited before binding: ${this.stderr}`)));
    });
    this.bound.catch(() => {}); // surfaced through onCrash or whoever awaits it
  }

  async kill(): Promise<void> {
    this.killed = true;
    this.child.kill("SIGKILL");
    await this.exited;
  }
}

interface Outcome {
  /** How many times each message 0..N-1 was recorded. */
  counts: number[];
  /** Records per incarnation. */
  perIncarnation: number[];
  kills: number;
  rejected: Error[];
}

async function run(delivery: Delivery): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-restart-"));
  const record = join(dir, "received.log");
  const signal = new Signal();
  /** Records of the incarnations already killed, counted in the record file. */
  let recordedBefore = 0;
  /** What the live incarnation last reported. */
  let current = 0;
  const progress = (): number => recordedBefore + current;
  let kills = 0;
  let restarts = 0;
  let restarting = false;
  let done = false;
  let connects = 0;
  let connectsAtLastKill = Infinity;
  let crash: Error | undefined;
  let sink: Sink | undefined;
  let sender: InstanceType<typeof SmartSocket> | undefined;
  let port = 0;
  /** The kill of the last restart; once the run ends, no new child is started. */
  let killing: Promise<void> = Promise.resolve();
  let stopping = false;

  const onCrash = (error: Error): void => {
    crash ??= error;
    signal.notify();
  };

  /** `promise`, or a rejection after PHASE_MS. */
  async function within<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${delivery}: no ${what} within ${PHASE_MS} ms (progress ${progress()}, kills ${kills})`)), PHASE_MS);
    });
    try {
      return await Promise.race([promise, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once `condition` holds; rejects after PHASE_MS or when a child failed. */
  async function until(condition: () => boolean, what: string): Promise<void> {
    if (crash !== undefined) throw crash;
    if (condition()) return;
    await within((async () => {
      while (!condition()) {
        await signal.next();
        if (crash !== undefined) throw crash;
      }
    })(), what);
  }

  const onReport = (report: Report, from: Sink): void => {
    // Reports still in the pipe from a child just killed are stale: the
    // record file has the last word on what it received.
    if (from !== sink) return;
    if (report.done) done = true;
    if (report.received !== undefined) {
      current = report.received;
      if (!restarting && kills < K && progress() >= (kills + 1) * STEP) restart(from);
    }
    signal.notify();
  };

  function restart(old: Sink): void {
    restarting = true;
    kills++;
    if (kills === K) connectsAtLastKill = connects;
    killing = old.kill();
    void (async () => {
      await killing;
      if (stopping) return;
      recordedBefore = readRecords(record).length;
      current = 0;
      const next = new Sink(port, record, old.incarnation + 1, onReport, onCrash);
      sink = next;
      const again = await next.bound;
      assert.equal(again, port, "the restarted child binds the same port");
      restarts++;
      restarting = false;
      signal.notify();
    })().catch(onCrash);
  }

  sink = new Sink(0, record, 0, onReport, onCrash);
  try {
    port = await within(sink.bound, "bind");
    sender = new SmartSocket({
      delivery,
      reconnectDelay: () => 20,
      // Every resend is then caused by a kill: no ACK timer runs out within
      // the test's bound, and a message loses at most one transmission per
      // kill, so K resends can never run out.
      ackTimeout: 30_000,
      maxRetries: K,
    });
    sender.events.on("connect", () => {
      connects++;
      signal.notify();
    });
    await sender.connect(`tcp://127.0.0.1:${port}`);

    const rejected: Error[] = [];
    const sends: Array<Promise<void>> = [];
    let acked = 0;
    const room = delivery === "at-least-once"
      ? (i: number) => i < WINDOW + acked
      : (i: number) => i < WINDOW * (1 + restarts) + progress();
    for (let i = 0; i < N; i++) {
      await until(() => room(i), `room to send message ${i}`);
      const sending = sender.send(String(i));
      sends.push(sending.then(() => {
        acked++;
        signal.notify();
      }, (error: Error) => void rejected.push(error)));
      // At-most-once resolves once the socket took the message; at-least-once
      // only at the ACK, so those are awaited together below.
      if (delivery === "at-most-once") await sending.catch(() => {});
    }
    let settled = false;
    void Promise.all(sends).then(() => {
      settled = true;
      signal.notify();
    });
    await until(() => settled, "settling of every send");
    await until(() => kills === K && !restarting, "last restart");
    // A connection made after the last kill is to the last incarnation, which
    // is never killed: the marker sent on it arrives after every message that
    // survived (one connection, in order).
    await until(() => connects > connectsAtLastKill, "connection to the last incarnation");
    const marker = sender.send("done");
    marker.catch(() => {}); // awaited below, once the child has it
    await until(() => done, "marker");
    await marker;

    const counts = new Array<number>(N).fill(0);
    const perIncarnation = new Array<number>(K + 1).fill(0);
    for (const line of readRecords(record)) {
      const [incarnation, text] = line.split(" ") as [string, string];
      perIncarnation[Number(incarnation)]!++;
      if (text === "done") continue;
      const seq = Number(text);
      assert.ok(Number.isInteger(seq) && seq >= 0 && seq < N, `unexpected record "${line}"`);
      counts[seq]!++;
    }
    return { counts, perIncarnation, kills, rejected };
  } finally {
    stopping = true;
    await sender?.close({ timeoutMs: 0 });
    await killing;
    await sink.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The record file's lines: "<incarnation> <message>". */
function readRecords(record: string): string[] {
  return readFileSync(record, "utf8").split("\n").filter((line) => line !== "");
}

function describeRun(t: TestContext, outcome: Outcome): void {
  t.diagnostic(`kills ${outcome.kills}; records per incarnation ${outcome.perIncarnation.join(", ")}`);
  for (const [incarnation, records] of outcome.perIncarnation.entries()) {
    assert.ok(records > 0, `incarnation ${incarnation} received messages`);
  }
}

describe("smart Socket: bind side killed (SIGKILL) and restarted while sending", { concurrency: false }, () => {
  it("at-least-once: every message arrives at least once; duplicates are counted", { timeout: 15_000 }, async (t) => {
    const outcome = await run("at-least-once");
    assert.deepEqual(outcome.rejected, [], "no send() rejected");
    const missing = outcome.counts.flatMap((count, seq) => (count === 0 ? [seq] : []));
    assert.deepEqual(missing, [], "every message recorded");
    const duplicates = outcome.counts.reduce((sum, count) => sum + count - 1, 0);
    t.diagnostic(`at-least-once: ${duplicates} duplicates over ${N} messages (rate ${((100 * duplicates) / N).toFixed(2)}%) across ${K} restarts`);
    describeRun(t, outcome);
  });

  it("at-most-once: no message arrives twice; losses are counted", { timeout: 15_000 }, async (t) => {
    const outcome = await run("at-most-once");
    assert.deepEqual(outcome.rejected, [], "no send() rejected");
    const twice = outcome.counts.flatMap((count, seq) => (count > 1 ? [seq] : []));
    assert.deepEqual(twice, [], "no message recorded twice");
    const lost = outcome.counts.filter((count) => count === 0).length;
    t.diagnostic(`at-most-once: ${lost} of ${N} messages lost (${((100 * lost) / N).toFixed(2)}%) across ${K} restarts`);
    describeRun(t, outcome);
  });
});
