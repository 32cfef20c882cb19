// Runs one benchmark cell: one scenario of one implementation as two worker
// processes (a server that binds and a client that connects) over loopback
// TCP, and collects its result. Shared by the tables of run.ts.

import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Impl, Role, ScenarioName, ToParent, ToWorker, WorkerSpec } from "./protocol.js";
import type { CellResult } from "./stats.js";

const WORKER = fileURLToPath(new URL("./worker.js", import.meta.url));

export type Outcome = { ok: true; result: CellResult } | { ok: false; reason: string; detail: string };

/** What one cell runs. */
export interface CellSpec {
  impl: Impl;
  scenario: ScenarioName;
  size: number;
  inflight: number;
  /** Measured messages or round trips; a tenth as many more warm up first. */
  count: number;
  noDrop?: boolean;
  delivery?: WorkerSpec["delivery"];
  /**
   * One-way streams: also wait for the sender's CPU report and add it to the
   * result (the sender may finish after the receiver, e.g. on its last ACKs).
   */
  sendCpu?: boolean;
}

// ---- child management -------------------------------------------------------

const live = new Set<ChildProcess>();

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/** Kills every worker still running (the orchestrator is exiting). */
export function killAll(): void {
  for (const c of live) if (alive(c)) c.kill("SIGKILL");
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function sendTo(c: ChildProcess | undefined, msg: ToWorker): void {
  if (!c || !c.connected) return;
  try {
    c.send(msg, () => {
      // Delivery errors mean the child is gone; its exit is handled elsewhere.
    });
  } catch {
    // Channel closed between the check and the send.
  }
}

/** Asks children to stop, then kills whatever is still running after a grace period. */
async function stopAll(children: ChildProcess[], graceMs: number): Promise<void> {
  const exits = children.filter(alive).map(
    (c) =>
      new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        sendTo(c, { type: "stop" });
        setTimeout(() => {
          if (alive(c)) c.kill("SIGKILL");
        }, graceMs).unref();
        // Even a SIGKILL can take a moment to be reaped; never hang on it.
        setTimeout(resolve, graceMs + 2_000).unref();
      }),
  );
  await Promise.all(exits);
  for (const c of children) live.delete(c);
}

/** Shortens a worker error to a table-sized reason. */
function classify(message: string): string {
  if (!message.includes("load failed")) return "error";
  return /ERR_MODULE_NOT_FOUND|Cannot find module/.test(message) ? "not built" : "load failed";
}

export function runCell(cell: CellSpec, limitMs: number): Promise<Outcome> {
  const children: ChildProcess[] = [];
  let server: ChildProcess | undefined;
  let client: ChildProcess | undefined;
  let finished = false;
  let settle: (o: Outcome) => void = () => {};
  const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
  const finish = (o: Outcome): void => {
    if (finished) return;
    finished = true;
    settle(o);
  };
  // With sendCpu, the result is held until the sender's report is in too.
  let result: CellResult | undefined;
  let sendCpuUs: number | undefined;
  const complete = (): void => {
    if (result === undefined || (cell.sendCpu === true && sendCpuUs === undefined)) return;
    const merged = result.kind === "throughput" && sendCpuUs !== undefined ? { ...result, sendCpuUs } : result;
    finish({ ok: true, result: merged });
  };

  const spawn = (role: Role, port?: number): ChildProcess => {
    const warmup = Math.max(1, Math.round(cell.count / 10));
    const spec: WorkerSpec = {
      impl: cell.impl,
      scenario: cell.scenario,
      role,
      size: cell.size,
      warmup,
      count: cell.count,
      inflight: cell.inflight,
    };
    if (cell.noDrop) spec.noDrop = true;
    if (cell.delivery !== undefined) spec.delivery = cell.delivery;
    if (port !== undefined) spec.port = port;
    const child = fork(WORKER, [JSON.stringify(spec)], { stdio: ["ignore", "pipe", "pipe", "ipc"], execArgv: [] });
    children.push(child);
    live.add(child);
    // Keep the tail of the child's output to explain a crash.
    let tail = "";
    const keep = (d: Buffer): void => {
      tail = (tail + d.toString()).slice(-2_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("message", (raw: unknown) => {
      const msg = raw as ToParent;
      switch (msg.type) {
        case "ready":
          // No late client once the cell is over: stopAll would not see it.
          if (role === "server" && !client && !finished) client = spawn("client", msg.port);
          break;
        case "result":
          result = msg.result;
          complete();
          break;
        case "cpu":
          sendCpuUs = msg.usPerMsg;
          complete();
          break;
        case "error":
          finish({ ok: false, reason: classify(msg.message), detail: `${role}: ${msg.message}` });
          break;
        case "peer":
          sendTo(role === "server" ? client : server, { type: "peer", kind: msg.kind });
          break;
      }
    });
    child.on("error", (err) => finish({ ok: false, reason: "error", detail: `${role}: ${err.message}` }));
    child.on("exit", (code, signal) => {
      // Let a final "error" message, if any, win over the bare exit.
      setTimeout(() => {
        const how = signal ? `signal ${signal}` : `code ${String(code)}`;
        finish({ ok: false, reason: "crashed", detail: `${role} exited (${how}) before a result. ${tail.trim()}` });
      }, 100);
    });
    return child;
  };

  server = spawn("server");
  const timer = setTimeout(
    () => finish({ ok: false, reason: "timeout", detail: `no result within ${limitMs / 1000} s` }),
    limitMs,
  );
  return outcome.finally(async () => {
    clearTimeout(timer);
    await stopAll(children, 1_500);
  });
}
