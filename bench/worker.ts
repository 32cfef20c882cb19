// Child-process entry of the benchmark. argv[2] is a JSON WorkerSpec; the
// worker runs one side (server or client) of one scenario for one
// implementation and talks to the orchestrator over the IPC channel.

import type { Ctl, PeerKind, ToParent, ToWorker, WorkerSpec } from "./protocol.js";
import { rawScenarios, closeAllRaw } from "./raw.js";
import { REQUIRED_CLASSES, closeAll, socketScenarios } from "./scenarios.js";
import { closeAllSmart, smartScenario } from "./smart.js";
import type { SocketModule } from "./scenarios.js";

function post(msg: ToParent): void {
  process.send?.(msg);
}

function shutdown(code: number): never {
  try {
    closeAll();
    closeAllRaw();
    closeAllSmart();
  } finally {
    // Exit explicitly: native sockets or pending promises must not keep
    // the process alive once the parent is done with it.
    process.exit(code);
  }
}

/** A library that cannot be loaded; its stack trace would only point into this file. */
class LoadError extends Error {}

function die(err: unknown): void {
  const message =
    err instanceof LoadError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  post({ type: "error", message });
  // Give the IPC message a moment to leave before exiting.
  setTimeout(() => shutdown(1), 50);
}

process.on("uncaughtException", die);
process.on("unhandledRejection", die);
// An orphaned worker (parent gone) must not linger.
process.on("disconnect", () => shutdown(0));

/**
 * Loads the socket module for a library implementation. The switchboard
 * worker imports the library from the compiled tree relative to this file;
 * SWITCHBOARD_BENCH_IMPL=zeromq swaps in zeromq as a self-check of the
 * harness's switchboard path.
 */
async function loadModule(impl: "zeromq" | "switchboard"): Promise<SocketModule> {
  const useZmq = impl === "zeromq" || process.env["SWITCHBOARD_BENCH_IMPL"] === "zeromq";
  // A string variable keeps tsc from resolving the specifier, so the bench
  // compiles even while the library is not there yet.
  const specifier = useZmq ? "zeromq" : new URL("../src/index.js", import.meta.url).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new LoadError(`load failed: ${reason}`);
  }
  const missing = REQUIRED_CLASSES.filter((name) => typeof mod[name] !== "function");
  if (missing.length > 0) throw new LoadError(`load failed: missing export(s) ${missing.join(", ")}`);
  return mod as unknown as SocketModule;
}

function makeCtl(): Ctl {
  const seen = new Set<PeerKind>();
  const waiters = new Map<PeerKind, Array<() => void>>();
  let onStop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (onStop = resolve));
  process.on("message", (raw: unknown) => {
    const msg = raw as ToWorker;
    if (msg.type === "stop") return onStop();
    seen.add(msg.kind);
    for (const w of waiters.get(msg.kind) ?? []) w();
    waiters.delete(msg.kind);
  });
  return {
    ready: (port) => post({ type: "ready", port }),
    result: (result) => post({ type: "result", result }),
    toPeer: (kind) => post({ type: "peer", kind }),
    sendCpu: (usPerMsg) => post({ type: "cpu", usPerMsg }),
    fromPeer: (kind) =>
      seen.has(kind)
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.set(kind, [...(waiters.get(kind) ?? []), resolve])),
    stopped,
  };
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg || !process.send) throw new Error("worker.js must be forked by run.js with a JSON spec argument");
  const spec = JSON.parse(arg) as WorkerSpec;
  const ctl = makeCtl();
  const run = async (): Promise<void> => {
    if (spec.impl === "raw") return rawScenarios[spec.scenario][spec.role](spec, ctl);
    if (spec.impl === "smart") return smartScenario[spec.role](spec, ctl);
    const mod = await loadModule(spec.impl);
    return socketScenarios[spec.scenario][spec.role](mod, spec, ctl);
  };
  // Scenarios wait for the stop themselves once their part is done; the
  // race also ends one that is still blocked (e.g. in send()) when the
  // parent gives up on the cell.
  await Promise.race([run(), ctl.stopped]);
  shutdown(0);
}

main().catch(die);
