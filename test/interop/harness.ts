// Shared plumbing for the interop suite: the two implementations, socket
// construction, endpoints, bounded waits, payloads and frame assertions.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import * as zmq from "zeromq";
import * as impl from "./impl.js";

export type Api = typeof zmq;

export interface Side {
  readonly name: "switchboard" | "libzmq";
  readonly api: Api;
}

// Switchboard keeps the zeromq.js API, so it is driven through the same type.
export const SWITCHBOARD: Side = { name: "switchboard", api: impl as unknown as Api };
export const LIBZMQ: Side = { name: "libzmq", api: zmq };
export const SIDES: readonly Side[] = [SWITCHBOARD, LIBZMQ];

export function other(side: Side): Side {
  return side === SWITCHBOARD ? LIBZMQ : SWITCHBOARD;
}

export type Transport = "tcp" | "ipc";
export const TRANSPORTS: readonly Transport[] = ["tcp", "ipc"];

export type SocketKind =
  | "Pair"
  | "Publisher"
  | "Subscriber"
  | "XPublisher"
  | "XSubscriber"
  | "Request"
  | "Reply"
  | "Dealer"
  | "Router"
  | "Push"
  | "Pull";

export const SHORT_NAME: Record<SocketKind, string> = {
  Pair: "PAIR",
  Publisher: "PUB",
  Subscriber: "SUB",
  XPublisher: "XPUB",
  XSubscriber: "XSUB",
  Request: "REQ",
  Reply: "REP",
  Dealer: "DEALER",
  Router: "ROUTER",
  Push: "PUSH",
  Pull: "PULL",
};

/** The union of the socket methods the suite uses; each test only calls what its type supports. */
export interface Sock {
  readonly events: zmq.Observer;
  readonly lastEndpoint: string | null;
  bind(address: string): Promise<void>;
  unbind(address: string): Promise<void>;
  connect(address: string, options?: { routingId?: string }): void;
  close(): void;
  send(message: zmq.MessageLike | zmq.MessageLike[]): Promise<void>;
  receive(): Promise<Buffer[]>;
  subscribe(...prefixes: Array<Buffer | string>): void;
  unsubscribe(...prefixes: Array<Buffer | string>): void;
}

/** Anything a subscription can be primed against: a local socket or a remote peer. */
export interface Receiver {
  receive(): Promise<Buffer[]>;
}

let ipcCounter = 0;

export function ipcAddress(): string {
  ipcCounter += 1;
  return `ipc://${join(tmpdir(), `sb-interop-${process.pid}-${ipcCounter}.sock`)}`;
}

export function bindAddress(transport: Transport): string {
  return transport === "tcp" ? "tcp://127.0.0.1:0" : ipcAddress();
}

/**
 * Owns everything a test creates: sockets, ipc files, pending waits and
 * extra cleanups. `dispose` releases all of it so the run can exit.
 */
export class Scope {
  private readonly sockets: Array<{ close(): void }> = [];
  private readonly cleanups: Array<() => void | Promise<void>> = [];
  private readonly ipcFiles = new Set<string>();

  track<T extends { close(): void }>(sock: T): T {
    this.sockets.push(sock);
    return sock;
  }

  defer(cleanup: () => void | Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Opens a socket of `kind` from `side`, with linger 0 unless overridden. */
  open(side: Side, kind: SocketKind, options: Record<string, unknown> = {}): Sock {
    const Ctor = side.api[kind] as unknown as new (options: object) => Sock;
    return this.track(new Ctor({ linger: 0, ...options }));
  }

  /** Binds to a fresh endpoint on `transport` and returns the resolved endpoint. */
  async bind(sock: Sock, transport: Transport): Promise<string> {
    return this.bindExact(sock, bindAddress(transport));
  }

  async bindExact(sock: Sock, address: string): Promise<string> {
    this.noteIpc(address);
    await sock.bind(address);
    const endpoint = sock.lastEndpoint;
    assert.ok(endpoint, `lastEndpoint is set after binding ${address}`);
    return endpoint;
  }

  noteIpc(address: string): void {
    if (address.startsWith("ipc://")) this.ipcFiles.add(address.slice("ipc://".length));
  }

  /**
   * Resolves with the next `type` event of `sock`. Register it before the
   * action that triggers the event. Rejects after `timeoutMs`.
   */
  nextEvent<E extends zmq.EventType>(
    sock: { readonly events: zmq.Observer },
    type: E,
    timeoutMs: number,
    what = "",
  ): Promise<zmq.EventOfType<E>> {
    let timer: NodeJS.Timeout | undefined;
    let listener: ((event: zmq.EventOfType<E>) => void) | undefined;
    const stop = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      if (listener !== undefined) sock.events.off(type, listener);
      timer = undefined;
      listener = undefined;
    };
    const promise = new Promise<zmq.EventOfType<E>>((resolve, reject) => {
      listener = (event) => {
        stop();
        resolve(event);
      };
      timer = setTimeout(() => {
        stop();
        reject(new Error(`no "${type}" event within ${timeoutMs} ms${what ? `: ${what}` : ""}`));
      }, timeoutMs);
      sock.events.on(type, listener);
    });
    promise.catch(() => undefined);
    this.defer(stop);
    return promise;
  }

  /** Counts `type` events of `sock` from now until the scope is disposed. */
  countEvents(sock: { readonly events: zmq.Observer }, type: zmq.EventType): { readonly count: number } {
    const counter = { count: 0 };
    const listener = (): void => {
      counter.count += 1;
    };
    sock.events.on(type, listener);
    this.defer(() => {
      sock.events.off(type, listener);
    });
    return counter;
  }

  async dispose(): Promise<void> {
    for (const sock of this.sockets.splice(0).reverse()) {
      try {
        sock.close();
      } catch {
        // already closed
      }
    }
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // best effort
      }
    }
    for (const file of this.ipcFiles) rmSync(file, { force: true });
    this.ipcFiles.clear();
  }
}

/** Connects, passing connect options only when there are some (zeromq.js rejects an extra argument). */
export function connectTo(sock: Sock, endpoint: string, options?: { routingId?: string }): void {
  if (options) sock.connect(endpoint, options);
  else sock.connect(endpoint);
}

export async function withScope(body: (scope: Scope) => Promise<void>): Promise<void> {
  const scope = new Scope();
  try {
    await body(scope);
  } finally {
    await scope.dispose();
  }
}

/** Rejects if `promise` does not settle within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- payloads

export type FrameLike = string | Buffer | Uint8Array;

export function buf(frame: FrameLike): Buffer {
  if (typeof frame === "string") return Buffer.from(frame, "latin1");
  return Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

export function frames(...parts: FrameLike[]): Buffer[] {
  return parts.map(buf);
}

export const MiB = 1024 * 1024;

/**
 * A deterministic payload of `size` bytes. The first byte is never 0x00 or
 * 0x01, so a payload sent upstream by an XSUB is never read as a subscription.
 */
export function payload(size: number, seed: number): Buffer {
  const block = Buffer.alloc(251);
  for (let i = 0; i < block.length; i++) block[i] = (0x41 + seed * 17 + i * 7) & 0xff;
  if (block[0]! < 2) block[0] = 0x7e;
  return Buffer.alloc(size, block);
}

function describeFrame(frame: Buffer): string {
  if (frame.length <= 40) return JSON.stringify(frame.toString("latin1"));
  return `<${frame.length} bytes ${frame.subarray(0, 8).toString("hex")}..>`;
}

export function describeFrames(list: readonly Buffer[]): string {
  return `[${list.map(describeFrame).join(", ")}]`;
}

export function sameFrames(actual: readonly FrameLike[], expected: readonly FrameLike[]): boolean {
  return actual.length === expected.length && actual.every((frame, i) => buf(frame).equals(buf(expected[i]!)));
}

export function assertFrames(actual: readonly FrameLike[], expected: readonly FrameLike[], what: string): void {
  if (!sameFrames(actual, expected)) {
    assert.fail(`${what}: expected ${describeFrames(expected.map(buf))}, got ${describeFrames(actual.map(buf))}`);
  }
}

// ---------------------------------------------------------------- pub/sub

const PROBE_MARK = "#probe-";
const PROBE_INTERVAL_MS = 20;
let probeCounter = 0;

/** A single-frame probe message that passes a subscription to `topic`. */
export function newProbe(topic = ""): Buffer {
  probeCounter += 1;
  return Buffer.from(`${topic}${PROBE_MARK}${probeCounter}`, "latin1");
}

export function isProbe(message: readonly Buffer[]): boolean {
  return message.length === 1 && message[0]!.includes(PROBE_MARK);
}

/**
 * Publishes `probe` repeatedly until `sub` receives it, proving the
 * subscription is in effect. Older probes that arrive first are skipped.
 */
export async function primeSubscription(
  publish: (probe: Buffer) => Promise<unknown>,
  sub: Receiver,
  probe: Buffer,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let message: Buffer[] | undefined;
    let failure: unknown;
    let settled = false;
    const received = sub.receive().then(
      (m) => {
        message = m.map(buf);
        settled = true;
      },
      (error: unknown) => {
        failure = error;
        settled = true;
      },
    );
    while (!settled) {
      if (Date.now() > deadline) throw new Error(`subscription not in effect within ${timeoutMs} ms`);
      await publish(probe);
      await Promise.race([received, delay(PROBE_INTERVAL_MS)]);
    }
    if (failure !== undefined) throw failure;
    if (message !== undefined && sameFrames(message, [probe])) return;
    if (message === undefined || !isProbe(message)) {
      assert.fail(`unexpected message while priming a subscription: ${describeFrames(message ?? [])}`);
    }
  }
}

/** Receives the next message that is not a probe. */
export async function receiveData(sub: Receiver): Promise<Buffer[]> {
  for (;;) {
    const message = (await sub.receive()).map(buf);
    if (!isProbe(message)) return message;
  }
}
