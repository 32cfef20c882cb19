// Benchmark orchestrator: for every scenario row it runs raw node:net,
// zeromq (native libzmq) and switchboard one after another, each as two
// worker processes talking over loopback TCP, then prints one table.
//
//   node dist/bench/run.js [--quick] [--json] [--only=<substring>] [--repeat=<n>]
//
// --quick: a much shorter run (smoke test); --json: results as JSON on
// stdout; --only: rows whose id or label contains the substring (e.g.
// "pushpull", "4096", "pubsub"; "messaging" runs only the messaging table,
// "smart" only the smart Socket table); --repeat: best of n runs per cell
// (for the smart table: rounds per cell, when above its 5).
//
// The smart Socket table (smart-table.ts) sets SmartSocket round-robin
// throughput, at-most-once and at-least-once, beside raw node:net and
// Switchboard Push/Pull of the same sizes, with CPU time per message on each
// side; medians of several rounds.
//
// The messaging table (request/reply through routers, in one process,
// across threads and across processes) ends with its own raw baseline:
// node:net between two processes over a unix socket with the same frame
// size and depth, so "vs raw" compares like with like. Each of its paths
// is measured max(n, 5) times and the medians are reported.
//
// Harness self-check: SWITCHBOARD_BENCH_IMPL=zeromq makes the switchboard
// column load zeromq, exercising that code path before the library exists.

import * as os from "node:os";
import { killAll, runCell, type Outcome } from "./cells.js";
import { runMessagingBench, type MessagingResult } from "./messaging.js";
import type { ScenarioName } from "./protocol.js";
import { printSmartTable, runSmartBench, smartBaselineFailed, smartRounds, smartSelected, type SmartResult } from "./smart-table.js";
import type { CellResult } from "./stats.js";
import { fmtCount, fmtNum, fmtPct, fmtRatio, renderTable } from "./stats.js";

const IMPLS = ["raw", "zeromq", "switchboard"] as const;
type Impl = (typeof IMPLS)[number];

interface Row {
  id: string;
  label: string;
  scenario: ScenarioName;
  size: number;
  inflight: number;
  /** Measured messages or round trips for the socket libraries and for raw. */
  count: { lib: number; raw: number };
  /** Publisher waits at its high-water mark instead of dropping. */
  noDrop?: boolean;
}

/**
 * Counts are sized so each cell takes roughly 1-2 s on a 2-core machine.
 * Raw and Switchboard are several times faster than zeromq on the
 * streaming rows, so they get a larger count; a rate does not depend on the
 * count once the run is long enough. --quick divides everything.
 */
function rows(quick: boolean): Row[] {
  const q = (lib: number, raw = lib): Row["count"] =>
    quick ? { lib: Math.max(1_000, Math.round(lib / 50)), raw: Math.max(1_000, Math.round(raw / 50)) } : { lib, raw };
  const pushPull = (size: number, count: Row["count"]): Row => ({
    id: `pushpull-${size}`,
    label: `push/pull ${size} B`,
    scenario: "pushpull",
    size,
    inflight: 0,
    count,
  });
  return [
    pushPull(16, q(600_000, 10_000_000)),
    pushPull(256, q(500_000, 5_000_000)),
    pushPull(4096, q(250_000, 600_000)),
    pushPull(65536, q(30_000, 40_000)),
    { id: "reqrep-16", label: "req/rep latency 16 B", scenario: "reqrep", size: 16, inflight: 1, count: q(10_000) },
    {
      id: "dealer-16",
      label: "dealer/router 16 B x100",
      scenario: "dealer",
      size: 16,
      inflight: 100,
      count: q(150_000, 1_000_000),
    },
    // The default publisher, which drops for a subscriber at its high-water
    // mark: the loss column says whether the subscriber kept up.
    { id: "pubsub-256", label: "pub/sub 256 B", scenario: "pubsub", size: 256, inflight: 0, count: q(300_000, 3_000_000) },
    // noDrop: the publisher waits at the mark instead, so nothing can be lost
    // (zeromq.js rejects such sends with EAGAIN; the scenario retries them).
    { id: "pubsub-256-nodrop", label: "pub/sub 256 B noDrop", scenario: "pubsub", size: 256, inflight: 0, count: q(300_000, 3_000_000), noDrop: true },
  ];
}

// ---- reporting ----------------------------------------------------------------

/** The figure ratios are computed on (for latency, lower is better). */
function headline(r: CellResult): number {
  switch (r.kind) {
    case "throughput":
    case "pubsub":
      return r.msgsPerSec;
    case "latency":
      return r.p50Us;
    case "rate":
      return r.reqPerSec;
  }
}

function describe(r: CellResult): string {
  switch (r.kind) {
    case "throughput":
      return `${fmtCount(r.msgsPerSec)} msg/s ${fmtNum(r.mbPerSec)} MB/s`;
    case "latency":
      return `p50 ${fmtNum(r.p50Us)} us, p99 ${fmtNum(r.p99Us)} us`;
    case "rate":
      return `${fmtCount(r.reqPerSec)} req/s`;
    case "pubsub":
      return `${fmtCount(r.msgsPerSec)} msg/s`;
  }
}

interface RowReport {
  row: Row;
  cells: Record<Impl, Outcome>;
  ratios: { sbRaw?: number; sbZmq?: number };
}

/** Whether `a` beats `b` on the headline figure. */
function better(a: CellResult, b: CellResult): boolean {
  return a.kind === "latency" ? headline(a) < headline(b) : headline(a) > headline(b);
}

/** Runs a cell `repeat` times and keeps the best run; the first failure ends the attempts. */
async function bestOf(row: Row, impl: Impl, limitMs: number, repeat: number): Promise<Outcome> {
  let best: Outcome | undefined;
  // Switchboard runs within a few times of raw, so it gets raw's count:
  // zeromq's would make its cells a fraction of a second, mostly warm-up.
  const count = impl === "zeromq" ? row.count.lib : row.count.raw;
  const cell = { impl, scenario: row.scenario, size: row.size, inflight: row.inflight, count, noDrop: row.noDrop === true };
  for (let i = 0; i < repeat; i++) {
    const o = await runCell(cell, limitMs);
    if (!o.ok) return o;
    if (!best?.ok || better(o.result, best.result)) best = o;
  }
  if (!best) throw new Error("repeat must be at least 1");
  return best;
}

function ratio(a: Outcome, b: Outcome): number | undefined {
  return a.ok && b.ok ? headline(a.result) / headline(b.result) : undefined;
}

function printTable(reports: RowReport[]): void {
  const notes: string[] = [];
  const cellText = (o: Outcome): string => {
    if (o.ok) return describe(o.result);
    // One footnote per distinct failure: a missing library fails every row alike.
    const note = o.detail.replace(/\s+/g, " ").slice(0, 400);
    let n = notes.indexOf(note);
    if (n < 0) n = notes.push(note) - 1;
    return `n/a (${o.reason}) [${n + 1}]`;
  };
  const lossText = (o: Outcome): string => (o.ok && o.result.kind === "pubsub" ? fmtPct(o.result.lossPct) : "-");
  const header = ["scenario", ...IMPLS, "sb/raw", "sb/zmq", "loss raw/zmq/sb"];
  const body = reports.map((r) => [
    r.row.label,
    ...IMPLS.map((i) => cellText(r.cells[i])),
    fmtRatio(r.ratios.sbRaw),
    fmtRatio(r.ratios.sbZmq),
    r.row.scenario === "pubsub" ? IMPLS.map((i) => lossText(r.cells[i])).join(" / ") : "",
  ]);
  console.log("");
  console.log(renderTable(header, body));
  console.log("");
  console.log("Ratios compare switchboard's headline figure: msg/s or req/s (higher is better);");
  console.log("for req/rep latency the ratio is sb p50 / other p50 (lower is better). MB = 10^6 bytes.");
  if (process.env["SWITCHBOARD_BENCH_IMPL"] === "zeromq") {
    console.log("NOTE: SWITCHBOARD_BENCH_IMPL=zeromq - the switchboard column ran zeromq (harness self-check).");
  }
  notes.forEach((n, i) => console.log(`[${i + 1}] ${n}`));
}

// ---- main ---------------------------------------------------------------------

const USAGE = "usage: node dist/bench/run.js [--quick] [--json] [--only=<substring>] [--repeat=<n>]";

interface Args {
  quick: boolean;
  json: boolean;
  only?: string;
  /** Runs per cell; the best is reported, which filters out noise from other load on the machine. */
  repeat: number;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { quick: false, json: false, repeat: 1 };
  for (const a of argv) {
    if (a === "--quick") out.quick = true;
    else if (a === "--json") out.json = true;
    else if (a.startsWith("--only=")) out.only = a.slice("--only=".length).toLowerCase();
    else if (/^--repeat=[1-9]\d*$/.test(a)) out.repeat = Number(a.slice("--repeat=".length));
    else {
      console.error(`unknown argument ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  return out;
}

/**
 * The messaging layer's request/reply paths, and the raw baseline measured
 * in the same run (node:net over a unix socket between two processes, same
 * frame size and depth). "vs raw" divides each rate by the baseline's; the
 * CPU columns are process.cpuUsage per request in each process, which moves
 * less with other load than the rate does.
 */
function printMessagingTable(results: MessagingResult[], rawDealerRate: number | undefined): void {
  const raw = results.find((r) => r.frameBytes !== undefined);
  const header = ["messaging request/reply", "100 in flight", "cpu/req here", "cpu/req there", "p50", "p99", "vs raw"];
  const us = (n: number | undefined): string => (n === undefined ? "-" : `${fmtNum(n)} us`);
  const body = results.map((r) => [
    r.path,
    `${fmtCount(r.reqPerSec)} req/s`,
    us(r.cpuUsHere),
    us(r.cpuUsThere),
    us(r.p50Us),
    us(r.p99Us),
    raw === undefined ? "-" : fmtRatio(r.reqPerSec / raw.reqPerSec),
  ]);
  console.log("");
  console.log(renderTable(header, body));
  console.log("");
  if (raw !== undefined) {
    console.log(`raw: node:net between two processes over a unix socket, u32-BE length-prefixed frames of ${String(raw.frameBytes)} B`);
    console.log("(the size of the ECHO request's envelope), 100 in flight, each chunk of frames answered with one write.");
  }
  console.log("cpu/req: user + system CPU time per request in the requesting process (here; for one router and the");
  console.log("worker thread, both sides) and in the answering process (there).");
  if (rawDealerRate !== undefined) console.log(`raw node:net over tcp, 16 B frames (dealer/router row): ${fmtCount(rawDealerRate)} req/s.`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const selected = rows(args.quick).filter(
    (r) => !args.only || r.id.includes(args.only) || r.label.toLowerCase().includes(args.only),
  );
  const withMessaging = !args.only || "messaging".includes(args.only);
  const smartSizes = smartSelected(args.only);
  if (selected.length === 0 && !withMessaging && smartSizes.length === 0) {
    console.error(`--only=${args.only ?? ""} matches no scenario`);
    process.exit(2);
  }
  // Hard limit per cell, generous next to the 1-2 s a healthy cell takes.
  const limitMs = args.quick ? 10_000 : 30_000;
  // Progress lines go to stderr under --json so stdout stays parseable.
  const progress = (line: string): void => (args.json ? console.error(line) : console.log(line));
  const mode = `${args.quick ? ", quick" : ""}${args.repeat > 1 ? `, best of ${args.repeat}` : ""}`;
  progress(`switchboard bench: node ${process.version}, ${os.cpus().length} cpu(s)${mode}`);

  const reports: RowReport[] = [];
  for (const row of selected) {
    const cells = {} as Record<Impl, Outcome>;
    for (const impl of IMPLS) {
      const o = await bestOf(row, impl, limitMs, args.repeat);
      cells[impl] = o;
      progress(`  ${row.label.padEnd(24)} ${impl.padEnd(11)} ${o.ok ? describe(o.result) : `n/a (${o.reason})`}`);
    }
    reports.push({
      row,
      cells,
      ratios: { sbRaw: ratio(cells.switchboard, cells.raw), sbZmq: ratio(cells.switchboard, cells.zeromq) },
    });
  }

  const smartResults: SmartResult[] =
    smartSizes.length > 0 ? await runSmartBench({ quick: args.quick, repeat: args.repeat, only: args.only, limitMs, progress }) : [];
  const messagingResults = withMessaging ? await runMessagingBench(args.quick, args.repeat) : [];
  const rawDealer = reports.find((r) => r.row.scenario === "dealer")?.cells.raw;
  const rawDealerRate = rawDealer?.ok && rawDealer.result.kind === "rate" ? rawDealer.result.reqPerSec : undefined;

  if (args.json) {
    const json = {
      smart: smartResults,
      messaging: messagingResults,
      node: process.version,
      cpus: os.cpus().length,
      quick: args.quick,
      repeat: args.repeat,
      selfCheck: process.env["SWITCHBOARD_BENCH_IMPL"] === "zeromq",
      rows: reports.map((r) => ({ ...r.row, results: r.cells, ratios: r.ratios })),
    };
    console.log(JSON.stringify(json, null, 2));
  } else {
    if (reports.length > 0) printTable(reports);
    if (smartResults.length > 0) printSmartTable(smartResults, smartRounds(args.quick, args.repeat), args.quick);
    if (messagingResults.length > 0) printMessagingTable(messagingResults, rawDealerRate);
  }

  // Only the baselines can fail the run; switchboard problems are data.
  const baselineFailed = reports.some((r) => !r.cells.raw.ok || !r.cells.zeromq.ok) || smartBaselineFailed(smartResults);
  process.exitCode = baselineFailed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err);
  killAll();
  process.exit(1);
});
