// Baseline: the same four scenarios over plain node:net with u32-BE
// length-prefixed frames. It is meant to be hard to beat: senders coalesce
// many frames into one large write (still honouring backpressure) and the
// receiver slices frames out of each chunk without copying.

import * as net from "node:net";
import { once } from "node:events";
import type { Ctl, ScenarioName, WorkerSpec } from "./protocol.js";
import { ArrivalCounter, CpuMeter, SequenceTracker, latencyResult, nowNs } from "./stats.js";

/** Target size of one coalesced write. */
const BATCH_BYTES = 256 * 1024;

/**
 * Incremental frame parser. Frames that lie inside one chunk are handed out
 * as zero-copy subarrays; only a frame split across chunks is reassembled.
 */
export class FrameParser {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Total bytes (header included) of the split frame, once its header is known. */
  private need = -1;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    let off = 0;
    if (this.pendingLen > 0) {
      const total = this.pendingLen + chunk.length;
      if (this.need < 0) {
        if (total < 4) return this.keep(chunk, total);
        const head = Buffer.concat([...this.pending, chunk], 4);
        this.need = 4 + head.readUInt32BE(0);
      }
      if (total < this.need) return this.keep(chunk, total);
      off = this.need - this.pendingLen;
      const frame = Buffer.concat([...this.pending, chunk.subarray(0, off)], this.need);
      this.pending = [];
      this.pendingLen = 0;
      this.need = -1;
      this.onFrame(frame.subarray(4));
    }
    const end = chunk.length;
    while (end - off >= 4) {
      const len = chunk.readUInt32BE(off);
      if (end - off - 4 < len) break;
      this.onFrame(chunk.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    if (off < end) this.keep(chunk.subarray(off), end - off);
  }

  private keep(part: Buffer, total: number): void {
    this.pending.push(part);
    this.pendingLen = total;
  }
}

/** Writes `frames` copies of `payload`, each framed, as one buffer; `stamp` may patch each copy. */
function buildBatch(payload: Buffer, frames: number, stamp?: (batch: Buffer, at: number, i: number) => void): Buffer {
  const step = 4 + payload.length;
  const batch = Buffer.allocUnsafe(frames * step);
  for (let i = 0, at = 0; i < frames; i++, at += step) {
    batch.writeUInt32BE(payload.length, at);
    payload.copy(batch, at + 4);
    stamp?.(batch, at + 4, i);
  }
  return batch;
}

/** Streams `total` frames, a batch at a time, waiting for 'drain' whenever the socket asks. */
async function streamFrames(sock: net.Socket, payload: Buffer, total: number, stampSeq: boolean): Promise<void> {
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / (4 + payload.length)));
  for (let sent = 0; sent < total; ) {
    const n = Math.min(perBatch, total - sent);
    const base = sent;
    const batch = buildBatch(payload, n, stampSeq ? (b, at, i) => b.writeUInt32BE(base + i, at) : undefined);
    sent += n;
    if (!sock.write(batch)) await once(sock, "drain");
  }
}

const sockets: net.Socket[] = [];
let listener: net.Server | undefined;

export function closeAllRaw(): void {
  for (const s of sockets.splice(0)) s.destroy();
  listener?.close();
  listener = undefined;
}

function adopt(sock: net.Socket): net.Socket {
  sock.setNoDelay(true);
  sockets.push(sock);
  return sock;
}

/** Listens on an ephemeral loopback port, reports it, and serves connections with `onConn`. */
async function listen(ctl: Ctl, onConn: (sock: net.Socket) => void): Promise<void> {
  const server = net.createServer((s) => onConn(adopt(s)));
  listener = server;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no tcp address");
  ctl.ready(addr.port);
}

async function dial(spec: WorkerSpec): Promise<net.Socket> {
  if (spec.port === undefined) throw new Error("client started without a port");
  const sock = adopt(net.connect({ host: "127.0.0.1", port: spec.port }));
  await once(sock, "connect");
  return sock;
}

function fail(err: unknown): never {
  throw err instanceof Error ? err : new Error(String(err));
}

type Scenario = (spec: WorkerSpec, ctl: Ctl) => Promise<void>;

// ---- push/pull and pub/sub: one-way streams --------------------------------

const streamServer: Scenario = async (spec, ctl) => {
  await listen(ctl, (sock) => {
    const counter = new ArrivalCounter(spec.warmup, spec.count, spec.size);
    let done = false;
    const parser = new FrameParser((frame) => {
      if (frame.length !== spec.size) fail(new Error(`frame of ${frame.length} bytes`));
      const r = counter.arrive();
      if (r && !done) {
        done = true;
        ctl.result(r);
      }
    });
    sock.on("data", (chunk: Buffer) => parser.push(chunk));
  });
  await ctl.stopped;
};

const streamClient: Scenario = async (spec, ctl) => {
  const sock = await dial(spec);
  const payload = Buffer.alloc(spec.size, 0x61);
  await streamFrames(sock, payload, spec.warmup, false);
  const cpu = new CpuMeter();
  cpu.start();
  await streamFrames(sock, payload, spec.count, false);
  ctl.sendCpu(cpu.perMessage(spec.count));
  await ctl.stopped;
};

// TCP cannot drop messages, but loss is still computed from sequence numbers
// exactly as for the socket libraries, so the column means the same thing.
const pubSubServer: Scenario = async (spec, ctl) => {
  await listen(ctl, (sock) => {
    const tracker = new SequenceTracker(spec.warmup, spec.count);
    let done = false;
    const parser = new FrameParser((frame) => {
      if (tracker.arrive(frame) === "last" && !done) {
        done = true;
        ctl.result(tracker.result());
      }
    });
    sock.on("data", (chunk: Buffer) => parser.push(chunk));
    // A raw stream is "subscribed" as soon as it is accepted.
    ctl.toPeer("go");
  });
  await ctl.stopped;
};

const pubSubClient: Scenario = async (spec, ctl) => {
  const sock = await dial(spec);
  await ctl.fromPeer("go");
  const payload = Buffer.alloc(spec.size, 0x63);
  await streamFrames(sock, payload, spec.warmup + spec.count, true);
  ctl.toPeer("done");
  await ctl.stopped;
};

// ---- request/reply: echo server, serial and pipelined clients ---------------

/** Echoes every frame on `sock`; all replies produced by one chunk go out in one write. */
export function echoFrames(sock: net.Socket): void {
  let replies: Buffer[] = [];
  let bytes = 0;
  const parser = new FrameParser((frame) => {
    replies.push(frame);
    bytes += 4 + frame.length;
  });
  sock.on("data", (chunk: Buffer) => {
    parser.push(chunk);
    if (replies.length === 0) return;
    const out = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const r of replies) {
      out.writeUInt32BE(r.length, at);
      r.copy(out, at + 4);
      at += 4 + r.length;
    }
    replies = [];
    bytes = 0;
    sock.write(out);
  });
}

const echoServer: Scenario = async (_spec, ctl) => {
  await listen(ctl, echoFrames);
  await ctl.stopped;
};

const reqRepClient: Scenario = async (spec, ctl) => {
  const sock = await dial(spec);
  const request = buildBatch(Buffer.alloc(spec.size, 0x62), 1);
  let wake: ((frame: Buffer) => void) | undefined;
  const parser = new FrameParser((frame) => {
    const w = wake;
    wake = undefined;
    w?.(frame);
  });
  sock.on("data", (chunk: Buffer) => parser.push(chunk));
  const roundTrip = (): Promise<Buffer> =>
    new Promise<Buffer>((resolve) => {
      wake = resolve;
      sock.write(request);
    });
  for (let i = 0; i < spec.warmup; i++) await roundTrip();
  const samples = new Float64Array(spec.count);
  for (let i = 0; i < spec.count; i++) {
    const t0 = nowNs();
    const reply = await roundTrip();
    samples[i] = (nowNs() - t0) / 1e3;
    if (reply.length !== spec.size) fail(new Error(`reply of ${reply.length} bytes`));
  }
  ctl.result(latencyResult(samples));
  await ctl.stopped;
};

/** Keeps `inflight` framed requests outstanding; each chunk of replies is answered with one write. */
function pipelined(sock: net.Socket, payload: Buffer, total: number, inflight: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let sent = 0;
    let received = 0;
    const parser = new FrameParser(() => received++);
    const top = (): void => {
      const n = Math.min(total - sent, inflight - (sent - received));
      if (n <= 0) return;
      sent += n;
      sock.write(buildBatch(payload, n));
    };
    const onData = (chunk: Buffer): void => {
      parser.push(chunk);
      if (received >= total) {
        sock.off("data", onData);
        sock.off("error", reject);
        resolve();
      } else top();
    };
    sock.on("data", onData);
    sock.on("error", reject);
    top();
  });
}

const dealerClient: Scenario = async (spec, ctl) => {
  const sock = await dial(spec);
  const payload = Buffer.alloc(spec.size, 0x64);
  // Phases never share a chunk: the warm-up only resolves once all its
  // replies are in, and the next phase has not sent anything yet.
  await pipelined(sock, payload, spec.warmup, spec.inflight);
  const t0 = nowNs();
  await pipelined(sock, payload, spec.count, spec.inflight);
  const seconds = (nowNs() - t0) / 1e9;
  ctl.result({ kind: "rate", reqPerSec: spec.count / seconds, count: spec.count, seconds });
  await ctl.stopped;
};

export const rawScenarios: Record<ScenarioName, { server: Scenario; client: Scenario }> = {
  pushpull: { server: streamServer, client: streamClient },
  reqrep: { server: echoServer, client: reqRepClient },
  dealer: { server: echoServer, client: dealerClient },
  pubsub: { server: pubSubServer, client: pubSubClient },
};
