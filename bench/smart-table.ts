// The smart Socket table: SmartSocket round-robin throughput, at-most-once
// and at-least-once, beside the two baselines it is judged against, all in
// the same run: raw node:net (u32-length frames, as the push/pull raw cell)
// and Switchboard Push/Pull (the push/pull scenario). Every cell is a sender
// and a receiver process over loopback tcp.
//
// On a small machine the rate of a single cell moves by up to 2x with where
// the kernel places the two processes and with other load, so every cell is
// measured several times and the medians are reported; the rounds visit the
// four cells in turn, so a slow spell of the machine lands on all of them.
// CPU time per message (process.cpuUsage in the sender and in the receiver)
// is reported too: it moves much less than the rate.

import { runCell, type Outcome } from "./cells.js";
import type { Impl, WorkerSpec } from "./protocol.js";
import { fmtCount, fmtNum, fmtRatio, renderTable } from "./stats.js";

export const SMART_SIZES = [16, 256, 4096] as const;

type Key = "raw" | "pushpull" | "amo" | "alo";

interface Column {
  key: Key;
  label: string;
  impl: Impl;
  delivery?: WorkerSpec["delivery"];
}

const COLUMNS: readonly Column[] = [
  { key: "raw", label: "raw node:net", impl: "raw" },
  { key: "pushpull", label: "Push/Pull", impl: "switchboard" },
  { key: "amo", label: "smart at-most-once", impl: "smart", delivery: "at-most-once" },
  { key: "alo", label: "smart at-least-once", impl: "smart", delivery: "at-least-once" },
];

/**
 * Measured messages per cell, sized for roughly a second each on a 2-core
 * machine (the rate does not depend on the count once the stream is long
 * enough to be steady). --quick divides them by 50.
 */
const COUNTS: Record<(typeof SMART_SIZES)[number], Record<Key, number>> = {
  16: { raw: 8_000_000, pushpull: 5_000_000, amo: 4_000_000, alo: 300_000 },
  256: { raw: 5_000_000, pushpull: 2_000_000, amo: 2_000_000, alo: 250_000 },
  4096: { raw: 500_000, pushpull: 250_000, amo: 250_000, alo: 150_000 },
};

export interface SmartCell {
  label: string;
  /** Medians over the rounds. */
  msgsPerSec: number;
  mbPerSec: number;
  sendCpuUs: number | undefined;
  recvCpuUs: number | undefined;
  /** msg/s of every round, in order. */
  rounds: number[];
}

export type SmartOutcome = ({ ok: true } & SmartCell) | { ok: false; reason: string; detail: string };

export interface SmartResult {
  id: string;
  size: number;
  cells: Record<Key, SmartOutcome>;
  /** Ratios of the median rates. */
  ratios: { amoPushPull?: number; amoRaw?: number; aloPushPull?: number; aloRaw?: number };
}

export interface SmartBenchOptions {
  quick: boolean;
  repeat: number;
  only: string | undefined;
  limitMs: number;
  progress: (line: string) => void;
}

function rowId(size: number): string {
  return `smart-${size}`;
}

/** Whether --only selects any size of this table ("smart", "smart-256", "4096", ...). */
export function smartSelected(only: string | undefined): number[] {
  return SMART_SIZES.filter((size) => only === undefined || rowId(size).includes(only) || "smart socket".includes(only));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarise(label: string, outcomes: Outcome[]): SmartOutcome {
  const failed = outcomes.find((o) => !o.ok);
  if (failed !== undefined && !failed.ok) return failed;
  const results = outcomes.flatMap((o) => (o.ok && o.result.kind === "throughput" ? [o.result] : []));
  const cpu = (pick: (r: (typeof results)[number]) => number | undefined): number | undefined => {
    const values = results.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? median(values) : undefined;
  };
  const rounds = results.map((r) => r.msgsPerSec);
  return {
    ok: true,
    label,
    msgsPerSec: median(rounds),
    mbPerSec: median(results.map((r) => r.mbPerSec)),
    sendCpuUs: cpu((r) => r.sendCpuUs),
    recvCpuUs: cpu((r) => r.recvCpuUs),
    rounds,
  };
}

function ratio(a: SmartOutcome, b: SmartOutcome): number | undefined {
  return a.ok && b.ok ? a.msgsPerSec / b.msgsPerSec : undefined;
}

/** Rounds per cell: at least 5 (1 with --quick, a smoke test), or --repeat if higher. */
export function smartRounds(quick: boolean, repeat: number): number {
  return quick ? repeat : Math.max(5, repeat);
}

export async function runSmartBench(opts: SmartBenchOptions): Promise<SmartResult[]> {
  const rounds = smartRounds(opts.quick, opts.repeat);
  const results: SmartResult[] = [];
  for (const size of smartSelected(opts.only)) {
    const counts = COUNTS[size as keyof typeof COUNTS];
    const outcomes: Record<Key, Outcome[]> = { raw: [], pushpull: [], amo: [], alo: [] };
    for (let round = 0; round < rounds; round++) {
      for (const column of COLUMNS) {
        const done = outcomes[column.key];
        // A failed cell is not run again: its failure is the result.
        if (done.some((o) => !o.ok)) continue;
        const count = opts.quick ? Math.max(1_000, Math.round(counts[column.key] / 50)) : counts[column.key];
        const cell = { impl: column.impl, scenario: "pushpull" as const, size, inflight: 0, count, sendCpu: true };
        const o = await runCell(column.delivery === undefined ? cell : { ...cell, delivery: column.delivery }, opts.limitMs);
        done.push(o);
        const text = o.ok && o.result.kind === "throughput" ? `${fmtCount(o.result.msgsPerSec)} msg/s` : o.ok ? "?" : `n/a (${o.reason})`;
        opts.progress(`  smart ${size} B, round ${round + 1}/${rounds}: ${column.label.padEnd(19)} ${text}`);
      }
    }
    const cells = {} as Record<Key, SmartOutcome>;
    for (const column of COLUMNS) cells[column.key] = summarise(column.label, outcomes[column.key]);
    results.push({
      id: rowId(size),
      size,
      cells,
      ratios: {
        amoPushPull: ratio(cells.amo, cells.pushpull),
        amoRaw: ratio(cells.amo, cells.raw),
        aloPushPull: ratio(cells.alo, cells.pushpull),
        aloRaw: ratio(cells.alo, cells.raw),
      },
    });
  }
  return results;
}

/** Whether the raw baseline failed: that fails the run, as in the main table (Switchboard failures are data). */
export function smartBaselineFailed(results: SmartResult[]): boolean {
  return results.some((r) => !r.cells.raw.ok);
}

export function printSmartTable(results: SmartResult[], rounds: number, quick: boolean): void {
  const notes: string[] = [];
  const us = (n: number | undefined): string => (n === undefined ? "-" : `${fmtNum(n)} us`);
  const header = ["smart Socket, round-robin", "msg/s", "MB/s", "cpu/msg send", "cpu/msg recv", "vs Push/Pull", "vs raw"];
  const body: string[][] = [];
  for (const r of results) {
    for (const column of COLUMNS) {
      const c = r.cells[column.key];
      const label = `${r.size} B ${column.label}`;
      if (!c.ok) {
        const note = c.detail.replace(/\s+/g, " ").slice(0, 400);
        let n = notes.indexOf(note);
        if (n < 0) n = notes.push(note) - 1;
        body.push([label, `n/a (${c.reason}) [${n + 1}]`, "", "", "", "", ""]);
        continue;
      }
      body.push([
        label,
        fmtCount(c.msgsPerSec),
        fmtNum(c.mbPerSec),
        us(c.sendCpuUs),
        us(c.recvCpuUs),
        column.key === "pushpull" ? "" : fmtRatio(ratio(c, r.cells.pushpull)),
        column.key === "raw" ? "" : fmtRatio(ratio(c, r.cells.raw)),
      ]);
    }
  }
  console.log("");
  console.log(renderTable(header, body));
  console.log("");
  console.log(`Medians of ${rounds} round(s); each cell is a sender and a receiver process over loopback tcp, one message`);
  console.log("per send(). raw: node:net, u32-length frames written in 256 KiB batches. smart at-least-once keeps 1000");
  console.log("sends (the default maxPending) awaiting their ACKs. cpu/msg: user + system CPU time per message in each process.");
  const target = results.map((r) => `${r.size} B ${fmtRatio(r.ratios.amoPushPull)}`).join(", ");
  console.log(`Target smart at-most-once >= 0.80x Push/Pull: ${target}.`);
  if (quick) console.log("--quick: a fiftieth of the messages, mostly warm-up; the figures only show that every cell runs.");
  notes.forEach((n, i) => console.log(`[${i + 1}] ${n}`));
}
