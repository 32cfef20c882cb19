// The SmartSocket side of the benchmark: a round-robin stream from a
// connecting sender to a binding receiver, one message per send(), with the
// delivery guarantee in spec.delivery. It mirrors the push/pull scenario
// (the receiver binds and times the arrivals; the sender connects and sends
// warm-up plus measured messages), so the two are directly comparable.

import type { Ctl, Role, WorkerSpec } from "./protocol.js";
import { ArrivalCounter, CpuMeter } from "./stats.js";

type SmartModule = typeof import("../src/index.js");
type SmartSocket = InstanceType<SmartModule["SmartSocket"]>;
type Scenario = (spec: WorkerSpec, ctl: Ctl) => Promise<void>;

/**
 * At-least-once sends kept in flight: the socket's default `maxPending`.
 * More would only wait inside the socket; fewer would leave the pipe idle
 * while ACKs travel back.
 */
const ALO_WINDOW = 1000;

const opened: SmartSocket[] = [];

/** Drops every socket at once: the parent only stops a cell once its result is in. */
export function closeAllSmart(): void {
  for (const sock of opened.splice(0)) sock.close({ timeoutMs: 0 }).catch(() => {});
}

// Imported on first use, so raw and zeromq workers do not load the library.
async function open(options?: ConstructorParameters<SmartModule["SmartSocket"]>[0]): Promise<SmartSocket> {
  const { SmartSocket } = await import("../src/index.js");
  const sock = new SmartSocket(options);
  opened.push(sock);
  return sock;
}

const server: Scenario = async (spec, ctl) => {
  const sock = await open();
  const endpoint = await sock.bind("tcp://127.0.0.1:0");
  const m = /:(\d+)$/.exec(endpoint);
  if (!m?.[1]) throw new Error(`cannot read the port from ${endpoint}`);
  ctl.ready(Number(m[1]));
  const counter = new ArrivalCounter(spec.warmup, spec.count, spec.size);
  for await (const msg of sock.messages()) {
    if (msg.length !== spec.size) throw new Error(`message of ${msg.length} bytes, expected ${spec.size}`);
    const r = counter.arrive();
    if (r) {
      ctl.result(r);
      break;
    }
  }
  await ctl.stopped;
};

/** At-most-once: send() resolves once the socket has taken the message, so one await per send, as with Push. */
async function serial(sock: SmartSocket, buf: Buffer, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await sock.send(buf);
}

/**
 * At-least-once: send() resolves on the ACK, which the receiver sends when
 * its application reads the message, so awaiting each send would measure
 * round trips. Keeps `window` sends outstanding instead.
 */
function windowed(sock: SmartSocket, buf: Buffer, n: number, window: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let started = 0;
    let acked = 0;
    let failed = false;
    const onAck = (): void => {
      acked++;
      if (acked === n) resolve();
      else top();
    };
    const onFail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const top = (): void => {
      while (!failed && started < n && started - acked < window) {
        started++;
        sock.send(buf).then(onAck, onFail);
      }
    };
    if (n === 0) resolve();
    else top();
  });
}

const client: Scenario = async (spec, ctl) => {
  if (spec.port === undefined) throw new Error("client started without a port");
  const delivery = spec.delivery ?? "at-most-once";
  const sock = await open({ sendMode: "roundrobin", delivery });
  await sock.connect(`tcp://127.0.0.1:${spec.port}`);
  const buf = Buffer.alloc(spec.size, 0x73);
  const run = (n: number): Promise<void> =>
    delivery === "at-least-once" ? windowed(sock, buf, n, ALO_WINDOW) : serial(sock, buf, n);
  await run(spec.warmup);
  const cpu = new CpuMeter();
  cpu.start();
  await run(spec.count);
  ctl.sendCpu(cpu.perMessage(spec.count));
  await ctl.stopped;
};

export const smartScenario: Record<Role, Scenario> = { server, client };
