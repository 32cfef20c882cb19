// Shared helpers of the tcp and ipc stream tests.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, linkSync, lstatSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Socket as NetSocket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it as nodeIt } from "node:test";

import { CanceledError, NotSupportedError, SwitchboardError, TransportError } from "../../src/errors.js";
import { parseEndpoint } from "../../src/transport/endpoint.js";
import { dial, listen, type DialOptions, type Listener, type ListenOptions } from "../../src/transport/stream.js";

// ---------------------------------------------------------------- helpers

/**
 * Every test gets a time limit, so a regression that leaves a test waiting
 * (for bytes, a connection, an 'end') fails that test and lets after() close
 * everything, instead of keeping the process alive for ever.
 */
export const TEST_TIMEOUT_MS = 20_000;
export const it = (name: string, fn: () => Promise<void>): Promise<void> => nodeIt(name, { timeout: TEST_TIMEOUT_MS }, fn);

/** node:net's Socket prototype, to observe setNoDelay. */
export const NetSocketProto = NetSocket.prototype as { setNoDelay(noDelay?: boolean): NetSocket };

export let counter = 0;
export const unique = (): string => `${process.pid}-${++counter}`;
export const ipcPath = (): string => join(tmpdir(), `sb-transport-${unique()}.sock`);
export const abstractName = (): string => `sb-transport-${unique()}-${Math.random().toString(36).slice(2, 8)}`;

/** Everything a test opened, closed after all tests so the process can exit even when an assertion failed. */
export const listeners: Listener[] = [];
export const streams: NetSocket[] = [];
export const files: string[] = [];
after(async () => {
  for (const s of streams) s.destroy();
  await Promise.all(listeners.map((l) => l.close()));
  for (const f of files) rmSync(f, { force: true });
});

/** Accepted streams, in order. */
export class Acceptor {
  private readonly queue: NetSocket[] = [];
  private readonly waiters: Array<(s: NetSocket) => void> = [];
  count = 0;
  readonly onStream = (stream: NetSocket): void => {
    this.count++;
    streams.push(stream);
    const waiter = this.waiters.shift();
    if (waiter) waiter(stream);
    else this.queue.push(stream);
  };
  next(): Promise<NetSocket> {
    const s = this.queue.shift();
    return s ? Promise.resolve(s) : new Promise((resolve) => this.waiters.push(resolve));
  }
}

export async function bind(address: string, acceptor = new Acceptor(), options?: ListenOptions): Promise<{ listener: Listener; acceptor: Acceptor }> {
  const listener = await listen(parseEndpoint(address, "bind"), acceptor.onStream, options);
  listeners.push(listener);
  return { listener, acceptor };
}

export async function connect(address: string, options?: DialOptions): Promise<NetSocket> {
  const stream = await dial(parseEndpoint(address, "connect"), options);
  streams.push(stream);
  return stream;
}

/**
 * Reads exactly `n` bytes and leaves the stream paused, with any bytes past
 * `n` put back for the next read. Rejects if the stream ends, fails or closes
 * first: a broken stream fails the test rather than leaving it waiting.
 */
export function readBytes(stream: NetSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (stream.readableEnded || stream.destroyed) {
      reject(new Error(`stream already ${stream.readableEnded ? "ended" : "destroyed"}, wanted ${n} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) {
        cleanup();
        const all = Buffer.concat(chunks);
        if (all.length > n) stream.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    const fail = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onEnd = (): void => fail(new Error(`stream ended after ${got} of ${n} bytes`));
    const onClose = (): void => fail(new Error(`stream closed after ${got} of ${n} bytes`));
    const cleanup = (): void => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onClose);
      stream.off("error", fail);
      stream.pause();
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("close", onClose);
    stream.on("error", fail);
    // The previous read on this stream paused it (readableFlowing === false).
    // Adding a 'data' listener only starts the flow of a stream that was never
    // paused, so without this a second read on the same stream waits for ever.
    stream.resume();
  });
}

/** Resolves once the peer has closed `stream` ('end', or 'close' if it was reset). Drains anything unread. */
export function closedByPeer(stream: NetSocket): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("end", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("end", done);
    stream.on("close", done);
    stream.resume();
  });
}

/** Sends bytes both ways (including a large payload) and checks they arrive intact. */
export async function exchange(a: NetSocket, b: NetSocket): Promise<void> {
  const ping = Buffer.from("\x00\x05hello from the dialler");
  a.write(ping);
  assert.deepEqual(await readBytes(b, ping.length), ping);
  const big = Buffer.alloc(256 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  b.write(big);
  assert.deepEqual(await readBytes(a, big.length), big);
}

export async function connectPair(address: string, acceptor: Acceptor, options?: DialOptions): Promise<[NetSocket, NetSocket]> {
  const [dialled, accepted] = await Promise.all([connect(address, options), acceptor.next()]);
  return [dialled, accepted];
}

export async function rejectsWith(promise: Promise<unknown>, code: string, cls: new (...args: never[]) => SwitchboardError = TransportError): Promise<SwitchboardError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    assert.equal((error as SwitchboardError).code, code, `unexpected code; message: ${(error as Error).message}`);
    return error as SwitchboardError;
  }
  assert.fail(`expected a rejection with ${code}`);
}

export const portOf = (endpoint: string): number => Number(/:(\d+)$/.exec(endpoint)?.[1]);

/** Whether this machine can bind the IPv6 loopback; detected once. */
export let ipv6Loopback: Promise<boolean> | undefined;
export function hasIPv6Loopback(): Promise<boolean> {
  ipv6Loopback ??= new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "::1", port: 0 }, () => server.close(() => resolve(true)));
  });
  return ipv6Loopback;
}

/**
 * Leaves a socket file behind at `path` with nothing listening: a hard link
 * to a listening socket outlives the listener; where links of sockets are
 * not allowed, a child process listens and is killed.
 */
export async function makeStaleSocketFile(path: string): Promise<void> {
  const server = createServer();
  const source = `${path}.orig`;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(source, resolve);
  });
  let linked = true;
  try {
    linkSync(source, path);
  } catch {
    linked = false;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (linked) return;
  const child = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => process.stdout.write("up"))`], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  await once(child.stdout, "data");
  child.kill("SIGKILL");
  await once(child, "exit");
}

// ---------------------------------------------------------------- tcp

