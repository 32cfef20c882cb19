// The socket scenarios, written once against the zeromq.js v6 API and run
// unchanged with either zeromq or switchboard. Only the members below are
// used, so any module that provides them (same names, same semantics) fits.

import { setTimeout as sleep } from "node:timers/promises";
import type { Ctl, ScenarioName, WorkerSpec } from "./protocol.js";
import { ArrivalCounter, CpuMeter, PROBE_SEQ, SequenceTracker, latencyResult, nowNs } from "./stats.js";
import type { RequestRateResult } from "./stats.js";

export interface BaseSocket {
  bind(address: string): Promise<void>;
  connect(address: string): void;
  close(): void;
  readonly lastEndpoint: string | null;
  linger: number;
}
export interface SendSocket extends BaseSocket {
  send(message: Buffer | Buffer[]): Promise<void>;
}
export interface RecvSocket extends BaseSocket {
  receive(): Promise<Buffer[]>;
  [Symbol.asyncIterator](): AsyncIterator<Buffer[], unknown>;
}
export interface DuplexSocket extends SendSocket, RecvSocket {}
export interface SubSocket extends RecvSocket {
  subscribe(...prefixes: Array<Buffer | string>): void;
}

export interface SocketModule {
  Push: new () => SendSocket;
  Pull: new () => RecvSocket;
  Request: new () => DuplexSocket;
  Reply: new () => DuplexSocket;
  Dealer: new () => DuplexSocket;
  Router: new () => DuplexSocket;
  Publisher: new () => SendSocket & { noDrop: boolean };
  Subscriber: new () => SubSocket;
}

export const REQUIRED_CLASSES: ReadonlyArray<keyof SocketModule> = [
  "Push",
  "Pull",
  "Request",
  "Reply",
  "Dealer",
  "Router",
  "Publisher",
  "Subscriber",
];

type Scenario = (mod: SocketModule, spec: WorkerSpec, ctl: Ctl) => Promise<void>;

/** Every socket created is closed at shutdown, whatever state it is in. */
const opened: BaseSocket[] = [];
function track<T extends BaseSocket>(sock: T): T {
  // Zero linger: the parent only stops a cell after its result is in, and
  // a lingering libzmq context would otherwise delay the process exit.
  sock.linger = 0;
  opened.push(sock);
  return sock;
}
export function closeAll(): void {
  for (const s of opened.splice(0)) {
    try {
      s.close();
    } catch {
      // Already closed or half-constructed: nothing left to release.
    }
  }
}

async function bindServer(sock: BaseSocket, ctl: Ctl): Promise<void> {
  await sock.bind("tcp://127.0.0.1:0");
  const m = /:(\d+)$/.exec(sock.lastEndpoint ?? "");
  if (!m?.[1]) throw new Error(`cannot read port from lastEndpoint ${String(sock.lastEndpoint)}`);
  ctl.ready(Number(m[1]));
}

function endpoint(spec: WorkerSpec): string {
  if (spec.port === undefined) throw new Error("client started without a port");
  return `tcp://127.0.0.1:${spec.port}`;
}

function checkSize(msg: Buffer[], size: number): void {
  if (msg.length !== 1 || msg[0]?.length !== size) {
    throw new Error(`unexpected message: ${msg.length} part(s), first ${msg[0]?.length ?? 0} bytes`);
  }
}

// ---- 1. push -> pull throughput -------------------------------------------

const pushPullServer: Scenario = async (mod, spec, ctl) => {
  const pull = track(new mod.Pull());
  await bindServer(pull, ctl);
  const counter = new ArrivalCounter(spec.warmup, spec.count, spec.size);
  for await (const msg of pull) {
    checkSize(msg, spec.size);
    const r = counter.arrive();
    if (r) {
      ctl.result(r);
      break;
    }
  }
  await ctl.stopped;
};

const pushPullClient: Scenario = async (mod, spec, ctl) => {
  const push = track(new mod.Push());
  push.connect(endpoint(spec));
  const buf = Buffer.alloc(spec.size, 0x61);
  const cpu = new CpuMeter();
  const loop = async (): Promise<void> => {
    for (let i = 0; i < spec.warmup; i++) await push.send(buf);
    cpu.start();
    for (let i = 0; i < spec.count; i++) await push.send(buf);
    ctl.sendCpu(cpu.perMessage(spec.count));
  };
  // The receiver ends the cell; the worker also stops us mid-loop if asked.
  await loop();
  await ctl.stopped;
};

// ---- 2. request -> reply latency ------------------------------------------

/** Echo server shared by reqrep (Reply) and dealer (Router, echoes [id, body]). */
function echoServer(kind: "Reply" | "Router"): Scenario {
  return async (mod, _spec, ctl) => {
    const sock = track(new mod[kind]());
    await bindServer(sock, ctl);
    const loop = async (): Promise<void> => {
      for await (const msg of sock) await sock.send(msg);
    };
    // Serves until the worker is stopped.
    await loop();
  };
}

const reqRepClient: Scenario = async (mod, spec, ctl) => {
  const req = track(new mod.Request());
  req.connect(endpoint(spec));
  const body = Buffer.alloc(spec.size, 0x62);
  for (let i = 0; i < spec.warmup; i++) {
    await req.send(body);
    checkSize(await req.receive(), spec.size);
  }
  const samples = new Float64Array(spec.count);
  for (let i = 0; i < spec.count; i++) {
    const t0 = nowNs();
    await req.send(body);
    const reply = await req.receive();
    samples[i] = (nowNs() - t0) / 1e3;
    checkSize(reply, spec.size);
  }
  ctl.result(latencyResult(samples));
  await ctl.stopped;
};

// ---- 3. dealer -> router, many requests in flight --------------------------

/**
 * Sends `total` requests keeping at most `inflight` unanswered. zeromq.js
 * allows one pending send() and one pending receive() per socket, so a
 * single pump task sends while the main loop receives and restarts the pump
 * whenever a reply frees a slot.
 */
async function pipelined(dealer: DuplexSocket, body: Buffer, total: number, inflight: number): Promise<void> {
  let sent = 0;
  let received = 0;
  let pumping = false;
  const pump = async (): Promise<void> => {
    pumping = true;
    try {
      while (sent < total && sent - received < inflight) {
        await dealer.send(body);
        sent++;
      }
    } finally {
      pumping = false;
    }
  };
  // A failing send rejects the pump; the worker's unhandled-rejection
  // handler reports it and exits, which also ends this loop.
  void pump();
  while (received < total) {
    const reply = await dealer.receive();
    if (reply.length !== 1 || reply[0]?.length !== body.length) throw new Error("malformed dealer reply");
    received++;
    if (!pumping && sent < total) void pump();
  }
}

const dealerClient: Scenario = async (mod, spec, ctl) => {
  const dealer = track(new mod.Dealer());
  dealer.connect(endpoint(spec));
  const body = Buffer.alloc(spec.size, 0x64);
  await pipelined(dealer, body, spec.warmup, spec.inflight);
  const t0 = nowNs();
  await pipelined(dealer, body, spec.count, spec.inflight);
  const seconds = (nowNs() - t0) / 1e9;
  const result: RequestRateResult = { kind: "rate", reqPerSec: spec.count / seconds, count: spec.count, seconds };
  ctl.result(result);
  await ctl.stopped;
};

// ---- 4. publisher -> subscriber --------------------------------------------

/** How long the subscriber waits without traffic, after the publisher is done, before it counts the rest as lost. */
const IDLE_FINISH_MS = 300;

const pubSubServer: Scenario = async (mod, spec, ctl) => {
  const sub = track(new mod.Subscriber());
  sub.subscribe();
  await bindServer(sub, ctl);
  const tracker = new SequenceTracker(spec.warmup, spec.count);
  let arrivals = 0;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    ctl.result(tracker.result());
  };
  // Messages dropped at the tail would leave us waiting for a sequence
  // number that never comes, so stop once the stream has gone quiet.
  void ctl.fromPeer("done").then(() => {
    let last = -1;
    let quietSince = Date.now();
    const timer = setInterval(() => {
      if (finished) return clearInterval(timer);
      if (arrivals !== last) {
        last = arrivals;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= IDLE_FINISH_MS) {
        clearInterval(timer);
        finish();
      }
    }, 25);
  });
  const loop = async (): Promise<void> => {
    for await (const msg of sub) {
      arrivals++;
      const first = msg[0];
      if (!first) continue;
      const ev = tracker.arrive(first);
      if (ev === "probe") ctl.toPeer("go");
      else if (ev === "last") return finish();
    }
  };
  await loop();
  await ctl.stopped;
};

/**
 * A no-drop publisher send. zeromq.js cannot wait for a full subscriber (a
 * PUB socket always polls as writable), so it rejects with EAGAIN: retry on
 * the next turn, as a zeromq.js user would. Switchboard waits by itself.
 */
async function sendNoDrop(pub: SendSocket, buf: Buffer): Promise<void> {
  for (;;) {
    try {
      return await pub.send(buf);
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const pubSubClient: Scenario = async (mod, spec, ctl) => {
  const pub = track(new mod.Publisher());
  if (spec.noDrop) pub.noDrop = true;
  pub.connect(endpoint(spec));
  // Subscriptions travel asynchronously, so probe until the subscriber
  // confirms one arrived; only then can every measured message count.
  const probe = Buffer.alloc(spec.size, 0x70);
  probe.writeUInt32BE(PROBE_SEQ, 0);
  let go = false;
  void ctl.fromPeer("go").then(() => (go = true));
  while (!go) {
    await pub.send(probe);
    await sleep(10);
  }
  const total = spec.warmup + spec.count;
  const loop = async (): Promise<void> => {
    for (let seq = 0; seq < total; seq++) {
      // A fresh buffer per message: the socket may still reference the
      // previous one after send() resolves.
      const buf = Buffer.allocUnsafe(spec.size);
      buf.writeUInt32BE(seq, 0);
      buf.fill(0x63, 4);
      if (spec.noDrop) await sendNoDrop(pub, buf);
      else await pub.send(buf);
    }
    ctl.toPeer("done");
  };
  await loop();
  await ctl.stopped;
};

export const socketScenarios: Record<ScenarioName, { server: Scenario; client: Scenario }> = {
  pushpull: { server: pushPullServer, client: pushPullClient },
  reqrep: { server: echoServer("Reply"), client: reqRepClient },
  dealer: { server: echoServer("Router"), client: dealerClient },
  pubsub: { server: pubSubServer, client: pubSubClient },
};
