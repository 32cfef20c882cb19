// Request/reply between two agents of the messaging layer: on one router,
// a directory lookup, across worker threads (ipc and MessagePort), across
// processes (MACHINE mode, ipc) and across machines (a NETWORK-mode router
// in another process with its own machine id, over a tcp link); beside
// them, the raw baseline: node:net between two processes over a unix socket,
// length-prefixed frames as large as the ECHO request's envelope, the same
// 100 requests in flight. Each path reports requests/s with 100 in flight,
// CPU time per request in each process (process.cpuUsage; less noisy than
// the rate), and p50/p99 of one request at a time.
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker } from "node:worker_threads";
import { messaging } from "../src/index.js";
import type { AgentHello } from "./messaging-agent.js";
import { FrameParser } from "./raw.js";
import { nowNs, percentile } from "./stats.js";

const { Address, Directory, Entry, Msg, Router, VLM, encodeMsg, registerEntry } = messaging;
const AGENT = fileURLToPath(new URL("./messaging-agent.js", import.meta.url));
const INFLIGHT = 100;

export interface MessagingResult {
  path: string;
  reqPerSec: number;
  /** CPU time (user + system) per request in the requesting process, in microseconds. */
  cpuUsHere: number;
  /** The same in the answering process, when it is another process. */
  cpuUsThere: number | undefined;
  p50Us: number;
  p99Us: number;
  /** Bytes per request frame (the raw baseline's frame size). */
  frameBytes?: number;
}

interface Side {
  /** Runs `total` requests with `inflight` outstanding. */
  pipelined(total: number, inflight: number): Promise<void>;
  /** One request at a time. */
  roundTrip(): Promise<void>;
  /** CPU time of the other process, when there is one. */
  otherCpu?: () => Promise<NodeJS.CpuUsage>;
}

function routerSide(
  conn: messaging.Connection,
  to: messaging.Address,
  otherCpu?: () => Promise<NodeJS.CpuUsage>,
  request: () => messaging.Msg = () => new Msg(to, "ECHO", 1),
): Side {
  const side: Side = {
    pipelined: (total, inflight) =>
      new Promise<void>((resolve, reject) => {
        let sent = 0;
        let done = 0;
        const one = (): void => {
          if (sent >= total) return;
          sent++;
          conn.send(request(), 10_000).then(() => {
            if (++done === total) resolve();
            else one();
          }, reject);
        };
        for (let i = 0; i < inflight; i++) one();
      }),
    roundTrip: async () => {
      await conn.send(request(), 10_000);
    },
  };
  if (otherCpu) side.otherCpu = otherCpu;
  return side;
}

/** The raw client: keeps `inflight` framed requests out; each chunk of replies is answered with one write. */
function rawSide(sock: net.Socket, size: number, otherCpu: () => Promise<NodeJS.CpuUsage>): Side {
  const payload = Buffer.alloc(size, 0x64);
  const batch = (n: number): Buffer => {
    const out = Buffer.allocUnsafe(n * (4 + size));
    for (let i = 0, at = 0; i < n; i++, at += 4 + size) {
      out.writeUInt32BE(size, at);
      payload.copy(out, at + 4);
    }
    return out;
  };
  let total = 0;
  let depth = 0;
  let sent = 0;
  let received = 0;
  let settle: { resolve(): void; reject(error: Error): void } | undefined;
  const parser = new FrameParser(() => received++);
  const top = (): void => {
    const n = Math.min(total - sent, depth - (sent - received));
    if (n <= 0) return;
    sent += n;
    sock.write(batch(n));
  };
  sock.on("data", (chunk: Buffer) => {
    parser.push(chunk);
    if (received < total) return top();
    const s = settle;
    settle = undefined;
    s?.resolve();
  });
  sock.on("error", (error) => settle?.reject(error));
  const run = (count: number, inflight: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      total = count;
      depth = inflight;
      sent = 0;
      received = 0;
      settle = { resolve, reject };
      top();
    });
  return { pipelined: run, roundTrip: () => run(1, 1), otherCpu };
}

function cpuMicros(usage: NodeJS.CpuUsage): number {
  return usage.user + usage.system;
}

interface Run {
  reqPerSec: number;
  cpuUsHere: number;
  cpuUsThere: number | undefined;
}

/** One measured run of `n` requests with INFLIGHT outstanding. */
async function runOnce(side: Side, n: number): Promise<Run> {
  const there0 = await side.otherCpu?.();
  const here0 = process.cpuUsage();
  const started = nowNs();
  await side.pipelined(n, INFLIGHT);
  const seconds = (nowNs() - started) / 1e9;
  const here = cpuMicros(process.cpuUsage(here0)) / n;
  const there1 = await side.otherCpu?.();
  const there = there0 && there1 ? (cpuMicros(there1) - cpuMicros(there0)) / n : undefined;
  return { reqPerSec: n / seconds, cpuUsHere: here, cpuUsThere: there };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? NaN;
}

/**
 * Measures each path `rounds` times in a row and reports the median of each
 * figure. Paths are not interleaved: the raw client's garbage (a buffer per
 * write) would land on the next path's runs.
 */
async function measurePaths(paths: Array<[string, Side]>, quick: boolean, rounds: number): Promise<MessagingResult[]> {
  const n = quick ? 5_000 : 200_000;
  const results: MessagingResult[] = [];
  for (const [path, side] of paths) {
    await side.pipelined(Math.min(n, 20_000), INFLIGHT); // warm-up
    const runs: Run[] = [];
    for (let r = 0; r < rounds; r++) runs.push(await runOnce(side, n));
    const there = runs.map((run) => run.cpuUsThere).filter((v): v is number => v !== undefined);
    const [p50Us, p99Us] = await latency(side, quick ? 1_000 : 20_000);
    results.push({
      path,
      reqPerSec: median(runs.map((run) => run.reqPerSec)),
      cpuUsHere: median(runs.map((run) => run.cpuUsHere)),
      cpuUsThere: there.length > 0 ? median(there) : undefined,
      p50Us,
      p99Us,
    });
  }
  return results;
}

/** p50 and p99 of one request at a time, in microseconds. */
async function latency(side: Side, count: number): Promise<[number, number]> {
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = nowNs();
    await side.roundTrip();
    samples[i] = (nowNs() - t0) / 1e3;
  }
  samples.sort();
  return [percentile(samples, 50), percentile(samples, 99)];
}

async function startAgent(mode: "--process" | "--raw" | "--network", args: string[] = []): Promise<{ child: ChildProcess; hello: AgentHello; cpu: () => Promise<NodeJS.CpuUsage> }> {
  const child = fork(AGENT, [mode, ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] });
  const [hello] = (await once(child, "message")) as [AgentHello];
  const cpu = async (): Promise<NodeJS.CpuUsage> => {
    child.send("cpu");
    const [reply] = (await once(child, "message")) as [{ cpu: NodeJS.CpuUsage }];
    return reply.cpu;
  };
  return { child, hello, cpu };
}

function stopAgent(child: ChildProcess): void {
  if (child.connected) child.send("stop");
  child.kill("SIGKILL");
}

/**
 * Every path. Each is measured `rounds` times (at least 5; 3 with --quick)
 * and the medians are reported: with two processes on a small machine, where
 * the kernel places them (one core or two) moves a single run by up to 2x
 * either way.
 */
export async function runMessagingBench(quick: boolean, repeat = 1): Promise<MessagingResult[]> {
  const rounds = Math.max(repeat, quick ? 3 : 5);
  const results: MessagingResult[] = [];
  const router = new Router({ mode: VLM.MACHINE_MODE });
  await router.ready;
  try {
    const client = router.newConnection();
    const echo: messaging.Connection = router.newConnection((msg) => void echo.send(msg.reply(msg.contents)));
    results.push(...(await measurePaths([["one router", routerSide(client, echo.addr)]], quick, rounds)));

    // Directory lookup: GET_ENTRIES to the router's own directory, which holds 100 entries of 10 services.
    const directory = new Directory(router);
    for (let i = 0; i < 100; i++) {
      await registerEntry(client, new Entry(new Address(router.machineId, router.routerId, 1_000 + i), `service-${i % 10}`, { i }), 1_000);
    }
    const query = { service: "service-3", params: { i: 53 } };
    if (directory.query(query).length !== 1) throw new Error("the lookup bench's directory does not hold its entries");
    results.push(...(await measurePaths([["directory lookup (GET_ENTRIES)", routerSide(client, client.directoryAddr, undefined, () => new Msg(client.directoryAddr, VLM.GET_ENTRIES, query))]], quick, rounds)));

    const worker = new Worker(AGENT, { workerData: { role: "echo" } });
    try {
      const [w] = (await once(worker, "message")) as [{ addr: string }];
      results.push(...(await measurePaths([["worker thread (ipc)", routerSide(client, Address.parse(w.addr))]], quick, rounds)));
      worker.postMessage("stop");
    } finally {
      await worker.terminate();
    }

    const { port1, port2 } = new MessageChannel();
    const portWorker = new Worker(AGENT, { workerData: { role: "echo-port", port: port2 }, transferList: [port2] });
    const portLink = router.linkPort(port1);
    try {
      const [[w]] = (await Promise.all([once(portWorker, "message"), portLink.up])) as [[{ addr: string }], void];
      results.push(...(await measurePaths([["worker thread (MessagePort)", routerSide(client, Address.parse(w.addr))]], quick, rounds)));
      portWorker.postMessage("stop");
    } finally {
      portLink.close();
      await portWorker.terminate();
    }

    // Another machine: a NETWORK-mode router of machine id + 1 in a child process, linked to a hub here over tcp.
    const hub = new Router({ mode: VLM.NETWORK_MODE, machineId: router.machineId });
    const far = await startAgent("--network", [await hub.listen("tcp://127.0.0.1:0", "network"), String(router.machineId + 1)]);
    try {
      if (!("addr" in far.hello)) throw new Error("the network agent did not report its address");
      results.push(...(await measurePaths([["other machine (tcp link)", routerSide(hub.newConnection(), Address.parse(far.hello.addr), far.cpu)]], quick, rounds)));
    } finally {
      stopAgent(far.child);
      hub.shutdown();
    }

    const agent = await startAgent("--process");
    const raw = await startAgent("--raw").catch((error: unknown) => {
      stopAgent(agent.child);
      throw error;
    });
    let sock: net.Socket | undefined;
    try {
      if (!("addr" in agent.hello)) throw new Error("the agent did not report its address");
      if (!("path" in raw.hello)) throw new Error("the raw agent did not report its path");
      const to = Address.parse(agent.hello.addr);
      // The raw baseline carries frames as large as this request's envelope.
      const frameBytes = encodeMsg(new Msg(to, "ECHO", 1, { from: client.addr, id: 1 })).length;
      sock = net.connect({ path: raw.hello.path });
      await once(sock, "connect");
      const [other, baseline] = await measurePaths(
        [
          ["other process (ipc)", routerSide(client, to, agent.cpu)],
          ["raw node:net, other process (unix)", rawSide(sock, frameBytes, raw.cpu)],
        ],
        quick,
        rounds,
      );
      results.push(other!, { ...baseline!, frameBytes });
    } finally {
      sock?.destroy();
      stopAgent(agent.child);
      stopAgent(raw.child);
    }
  } finally {
    router.shutdown();
  }
  return results;
}
