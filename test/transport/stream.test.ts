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
const TEST_TIMEOUT_MS = 20_000;
const it = (name: string, fn: () => Promise<void>): Promise<void> => nodeIt(name, { timeout: TEST_TIMEOUT_MS }, fn);

/** node:net's Socket prototype, to observe setNoDelay. */
const NetSocketProto = NetSocket.prototype as { setNoDelay(noDelay?: boolean): NetSocket };

let counter = 0;
const unique = (): string => `${process.pid}-${++counter}`;
const ipcPath = (): string => join(tmpdir(), `sb-transport-${unique()}.sock`);
const abstractName = (): string => `sb-transport-${unique()}-${Math.random().toString(36).slice(2, 8)}`;

/** Everything a test opened, closed after all tests so the process can exit even when an assertion failed. */
const listeners: Listener[] = [];
const streams: NetSocket[] = [];
const files: string[] = [];
after(async () => {
  for (const s of streams) s.destroy();
  await Promise.all(listeners.map((l) => l.close()));
  for (const f of files) rmSync(f, { force: true });
});

/** Accepted streams, in order. */
class Acceptor {
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

async function bind(address: string, acceptor = new Acceptor(), options?: ListenOptions): Promise<{ listener: Listener; acceptor: Acceptor }> {
  const listener = await listen(parseEndpoint(address, "bind"), acceptor.onStream, options);
  listeners.push(listener);
  return { listener, acceptor };
}

async function connect(address: string, options?: DialOptions): Promise<NetSocket> {
  const stream = await dial(parseEndpoint(address, "connect"), options);
  streams.push(stream);
  return stream;
}

/**
 * Reads exactly `n` bytes and leaves the stream paused, with any bytes past
 * `n` put back for the next read. Rejects if the stream ends, fails or closes
 * first: a broken stream fails the test rather than leaving it waiting.
 */
function readBytes(stream: NetSocket, n: number): Promise<Buffer> {
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
function closedByPeer(stream: NetSocket): Promise<void> {
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
async function exchange(a: NetSocket, b: NetSocket): Promise<void> {
  const ping = Buffer.from("\x00\x05hello from the dialler");
  a.write(ping);
  assert.deepEqual(await readBytes(b, ping.length), ping);
  const big = Buffer.alloc(256 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  b.write(big);
  assert.deepEqual(await readBytes(a, big.length), big);
}

async function connectPair(address: string, acceptor: Acceptor, options?: DialOptions): Promise<[NetSocket, NetSocket]> {
  const [dialled, accepted] = await Promise.all([connect(address, options), acceptor.next()]);
  return [dialled, accepted];
}

async function rejectsWith(promise: Promise<unknown>, code: string, cls: new (...args: never[]) => SwitchboardError = TransportError): Promise<SwitchboardError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    assert.equal((error as SwitchboardError).code, code, `unexpected code; message: ${(error as Error).message}`);
    return error as SwitchboardError;
  }
  assert.fail(`expected a rejection with ${code}`);
}

const portOf = (endpoint: string): number => Number(/:(\d+)$/.exec(endpoint)?.[1]);

/** Whether this machine can bind the IPv6 loopback; detected once. */
let ipv6Loopback: Promise<boolean> | undefined;
function hasIPv6Loopback(): Promise<boolean> {
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
async function makeStaleSocketFile(path: string): Promise<void> {
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

describe("tcp", () => {
  it("binds 127.0.0.1:0, reports the real port, and exchanges bytes both ways", async () => {
    const { listener, acceptor } = await bind("tcp://127.0.0.1:0");
    assert.match(listener.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(portOf(listener.endpoint) > 0);
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
    await exchange(dialled, accepted);
    assert.equal(accepted.remotePort, dialled.localPort);
    await listener.close();
  });

  it("binds tcp://127.0.0.1:* as an ephemeral port too", async () => {
    const { listener, acceptor } = await bind("tcp://127.0.0.1:*");
    assert.ok(portOf(listener.endpoint) > 0);
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
    await exchange(accepted, dialled);
    await listener.close();
  });

  it("binds tcp://*:0 as 0.0.0.0 and is reachable on 127.0.0.1", async () => {
    const { listener, acceptor } = await bind("tcp://*:0");
    assert.match(listener.endpoint, /^tcp:\/\/0\.0\.0\.0:\d+$/);
    const [dialled, accepted] = await connectPair(`tcp://127.0.0.1:${portOf(listener.endpoint)}`, acceptor);
    await exchange(dialled, accepted);
    await listener.close();
  });

  it("binds tcp://*:0 with ipv6 as dual-stack [::] (or 0.0.0.0 without IPv6)", async () => {
    const { listener, acceptor } = await bind("tcp://*:0", new Acceptor(), { ipv6: true });
    const port = portOf(listener.endpoint);
    if (await hasIPv6Loopback()) {
      assert.equal(listener.endpoint, `tcp://[::]:${port}`);
      const [d6, a6] = await connectPair(`tcp://[::1]:${port}`, acceptor);
      await exchange(d6, a6);
    } else {
      assert.equal(listener.endpoint, `tcp://0.0.0.0:${port}`);
    }
    const [d4, a4] = await connectPair(`tcp://127.0.0.1:${port}`, acceptor);
    await exchange(d4, a4);
    await listener.close();
  });

  it("works over the IPv6 loopback [::1], or fails with a coded error where there is none", async () => {
    if (await hasIPv6Loopback()) {
      const { listener, acceptor } = await bind("tcp://[::1]:0");
      assert.match(listener.endpoint, /^tcp:\/\/\[::1\]:\d+$/);
      const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
      assert.equal(dialled.remoteFamily, "IPv6");
      await exchange(dialled, accepted);
      await listener.close();
    } else {
      const error = await rejectsWith(listen(parseEndpoint("tcp://[::1]:0", "bind"), () => {}), "EADDRNOTAVAIL");
      assert.equal(error.address, "tcp://[::1]:0");
    }
  });

  it("resolves the host name localhost on bind and on connect", async () => {
    const { listener, acceptor } = await bind("tcp://localhost:0");
    // The endpoint is numeric, whichever address localhost resolved to.
    assert.match(listener.endpoint, /^tcp:\/\/(127\.0\.0\.1|\[::1\]):\d+$/);
    const [dialled, accepted] = await connectPair(`tcp://localhost:${portOf(listener.endpoint)}`, acceptor);
    await exchange(dialled, accepted);
    await listener.close();

    const v4 = await bind("tcp://127.0.0.1:0");
    const [d, a] = await connectPair(`tcp://localhost:${portOf(v4.listener.endpoint)}`, v4.acceptor);
    await exchange(d, a);
    await v4.listener.close();
  });

  it("turns Nagle off on dialled streams", async () => {
    const { listener, acceptor } = await bind("tcp://127.0.0.1:0");
    const original = NetSocketProto.setNoDelay;
    const calls: Array<boolean | undefined> = [];
    NetSocketProto.setNoDelay = function (this: NetSocket, noDelay?: boolean) {
      calls.push(noDelay);
      return original.call(this, noDelay);
    };
    try {
      await connectPair(listener.endpoint, acceptor);
    } finally {
      NetSocketProto.setNoDelay = original;
    }
    assert.ok(calls.includes(true), "setNoDelay(true) was called");
    await listener.close();
  });

  it("rejects a second bind of the same address with EADDRINUSE, leaving the first working", async () => {
    const { listener, acceptor } = await bind("tcp://127.0.0.1:0");
    const error = await rejectsWith(listen(parseEndpoint(listener.endpoint, "bind"), () => {}), "EADDRINUSE");
    assert.equal(error.address, listener.endpoint);
    assert.ok(error instanceof TransportError && typeof error.errno === "number");
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
    await exchange(dialled, accepted);
    await listener.close();
  });

  it("rejects a dial to a closed port with ECONNREFUSED (also via a host name)", async () => {
    const { listener } = await bind("tcp://127.0.0.1:0");
    const port = portOf(listener.endpoint);
    await listener.close();
    const error = await rejectsWith(dial(parseEndpoint(`tcp://127.0.0.1:${port}`, "connect")), "ECONNREFUSED");
    assert.equal(error.address, `tcp://127.0.0.1:${port}`);
    await rejectsWith(dial(parseEndpoint(`tcp://localhost:${port}`, "connect")), "ECONNREFUSED");
  });

  it("frees the port on close and can bind it again", async () => {
    const first = await bind("tcp://127.0.0.1:0");
    await first.listener.close();
    const again = await bind(first.listener.endpoint);
    assert.equal(again.listener.endpoint, first.listener.endpoint);
    await again.listener.close();
  });

  it("close() is idempotent and leaves accepted streams open", async () => {
    const { listener, acceptor } = await bind("tcp://127.0.0.1:0");
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
    const p1 = listener.close();
    const p2 = listener.close();
    assert.equal(p1, p2);
    await p1;
    await listener.close();
    await exchange(dialled, accepted);
    await rejectsWith(dial(parseEndpoint(listener.endpoint, "connect")), "ECONNREFUSED");
  });

  it("honours a source address on connect", async () => {
    const { listener, acceptor } = await bind("tcp://127.0.0.1:0");
    const port = portOf(listener.endpoint);
    // Find a free local port for the source.
    const probe = await bind("tcp://127.0.0.1:0");
    const sourcePort = portOf(probe.listener.endpoint);
    await probe.listener.close();
    const [dialled, accepted] = await connectPair(`tcp://127.0.0.1:${sourcePort};127.0.0.1:${port}`, acceptor);
    assert.equal(dialled.localPort, sourcePort);
    assert.equal(accepted.remotePort, sourcePort);
    assert.equal(accepted.remoteAddress, "127.0.0.1");
    await exchange(dialled, accepted);
    const [d2, a2] = await connectPair(`tcp://*:0;127.0.0.1:${port}`, acceptor);
    await exchange(d2, a2);
    await listener.close();
  });

  it("rejects an unknown source interface with EADDRNOTAVAIL", async () => {
    await rejectsWith(dial(parseEndpoint("tcp://no-such-nic0:0;127.0.0.1:9", "connect")), "EADDRNOTAVAIL");
  });
});

// ---------------------------------------------------------------- dial cancellation and timeout

describe("dial: abort and timeout", () => {
  it("rejects at once with ECANCELED when the signal is already aborted", async () => {
    const { listener, acceptor } = await bind("tcp://127.0.0.1:0");
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    const error = await rejectsWith(dial(parseEndpoint(listener.endpoint, "connect"), { signal: controller.signal }), "ECANCELED", CanceledError);
    assert.equal(error.address, listener.endpoint);
    assert.equal((error.cause as Error).message, "shutting down");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(acceptor.count, 0, "no connection was made");
    await listener.close();
  });

  it("rejects with ECANCELED when aborted while connecting, and leaves no stream open", async () => {
    for (const address of ["tcp://127.0.0.1:0", "ipc://*"]) {
      const { listener, acceptor } = await bind(address);
      const controller = new AbortController();
      const dialling = dial(parseEndpoint(listener.endpoint, "connect"), { signal: controller.signal });
      controller.abort();
      await rejectsWith(dialling, "ECANCELED", CanceledError);
      // Whatever the kernel had already accepted is closed from our side.
      if (acceptor.count > 0) {
        await closedByPeer(await acceptor.next());
      }
      await listener.close();
    }
  });

  it("rejects with ETIMEDOUT when the connect takes longer than timeoutMs", async () => {
    const { listener } = await bind("tcp://127.0.0.1:0");
    // Start in the check phase and block past the timeout: the next loop
    // iteration runs the expired timer before it polls for the connect.
    await new Promise((resolve) => setImmediate(resolve));
    const dialling = dial(parseEndpoint(listener.endpoint, "connect"), { timeoutMs: 1 });
    const until = Date.now() + 20;
    while (Date.now() < until) {
      /* busy-wait */
    }
    const error = await rejectsWith(dialling, "ETIMEDOUT");
    assert.equal(error.address, listener.endpoint);
    await listener.close();
  });

  it("a timeout or signal that does not fire leaves the dialled stream alone", async () => {
    const { listener, acceptor } = await bind("tcp://127.0.0.1:0");
    const controller = new AbortController();
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor, { timeoutMs: 5000, signal: controller.signal });
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(dialled.destroyed, false);
    await exchange(dialled, accepted);
    await listener.close();
  });

  it("rejects a negative timeout with EINVAL", async () => {
    await rejectsWith(dial(parseEndpoint("tcp://127.0.0.1:9", "connect"), { timeoutMs: -1 }), "EINVAL", SwitchboardError);
  });
});

// ---------------------------------------------------------------- ipc

describe("ipc", () => {
  it("binds a path, exchanges bytes, and removes the file on close", async () => {
    const path = ipcPath();
    files.push(path);
    const { listener, acceptor } = await bind(`ipc://${path}`);
    assert.equal(listener.endpoint, `ipc://${path}`);
    assert.ok(lstatSync(path).isSocket());
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
    await exchange(dialled, accepted);
    await listener.close();
    assert.equal(existsSync(path), false, "socket file removed on close");
    await listener.close();
    // The accepted stream outlives the listener.
    await exchange(accepted, dialled);
  });

  it("binds a relative path", async () => {
    const name = `sb-rel-${unique()}.sock`;
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const { listener, acceptor } = await bind(`ipc://${name}`);
      assert.equal(listener.endpoint, `ipc://${name}`);
      assert.ok(existsSync(join(tmpdir(), name)));
      const [dialled, accepted] = await connectPair(`ipc://${name}`, acceptor);
      await exchange(dialled, accepted);
      await listener.close();
      assert.equal(existsSync(join(tmpdir(), name)), false);
    } finally {
      process.chdir(cwd);
    }
  });

  it("binds an abstract name, refuses a second bind, and leaves no file", async () => {
    const name = abstractName();
    const { listener, acceptor } = await bind(`ipc://@${name}`);
    assert.equal(listener.endpoint, `ipc://@${name}`);
    assert.equal(existsSync(name), false);
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
    await exchange(dialled, accepted);
    await rejectsWith(listen(parseEndpoint(`ipc://@${name}`, "bind"), () => {}), "EADDRINUSE");
    await listener.close();
    await listener.close();
    await rejectsWith(dial(parseEndpoint(`ipc://@${name}`, "connect")), "ECONNREFUSED");
    // The name is free again.
    const again = await bind(`ipc://@${name}`);
    await again.listener.close();
  });

  it("replaces a stale socket file that nothing answers on", async () => {
    const path = ipcPath();
    files.push(path, `${path}.orig`);
    await makeStaleSocketFile(path);
    assert.ok(lstatSync(path).isSocket(), "a stale socket file is there");
    await rejectsWith(dial(parseEndpoint(`ipc://${path}`, "connect")), "ECONNREFUSED");
    const { listener, acceptor } = await bind(`ipc://${path}`);
    const [dialled, accepted] = await connectPair(`ipc://${path}`, acceptor);
    await exchange(dialled, accepted);
    await listener.close();
    assert.equal(existsSync(path), false);
  });

  it("refuses to take over a path a live listener answers on", async () => {
    const path = ipcPath();
    files.push(path);
    const { listener, acceptor } = await bind(`ipc://${path}`);
    const error = await rejectsWith(listen(parseEndpoint(`ipc://${path}`, "bind"), () => {}), "EADDRINUSE");
    assert.equal(error.address, `ipc://${path}`);
    // The probe was a connection to the live listener, closed straight away.
    await closedByPeer(await acceptor.next());
    // The first listener's file is still there and still serving.
    assert.ok(lstatSync(path).isSocket());
    const [dialled, accepted] = await connectPair(`ipc://${path}`, acceptor);
    await exchange(dialled, accepted);
    await listener.close();
  });

  it("never removes a file that is not a socket", async () => {
    const path = ipcPath();
    files.push(path);
    writeFileSync(path, "precious");
    await rejectsWith(listen(parseEndpoint(`ipc://${path}`, "bind"), () => {}), "EADDRINUSE");
    assert.equal(readFileSync(path, "utf8"), "precious");
  });

  it("binds ipc://* to a unique temporary path", async () => {
    const a = await bind("ipc://*");
    const b = await bind("ipc://*");
    assert.notEqual(a.listener.endpoint, b.listener.endpoint);
    for (const { listener, acceptor } of [a, b]) {
      assert.match(listener.endpoint, /^ipc:\/\/\//);
      const path = listener.endpoint.slice("ipc://".length);
      assert.equal(dirname(path), tmpdir());
      assert.ok(lstatSync(path).isSocket());
      const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
      await exchange(dialled, accepted);
      await listener.close();
      assert.equal(existsSync(path), false);
    }
  });

  it("rejects a dial to a missing path with ENOENT", async () => {
    const path = ipcPath();
    const error = await rejectsWith(dial(parseEndpoint(`ipc://${path}`, "connect")), "ENOENT");
    assert.equal(error.address, `ipc://${path}`);
  });

  it("rejects a bind in a missing directory with the OS's code", async () => {
    const path = join(tmpdir(), `sb-missing-${unique()}`, "x.sock");
    const error = await listen(parseEndpoint(`ipc://${path}`, "bind"), () => {}).then(
      () => assert.fail("expected a rejection"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TransportError);
    // Linux says ENOENT; gVisor (this project's sandbox) says EACCES.
    assert.ok(["ENOENT", "EACCES"].includes(error.code), `code ${error.code}`);
    assert.equal(error.address, `ipc://${path}`);
  });
});

// ---------------------------------------------------------------- error codes

describe("TransportError.from", () => {
  const sysError = (code: string, errno: number): NodeJS.ErrnoException =>
    Object.assign(new Error(`connect ${code} 10.0.0.1:5555`), { code, errno, syscall: "connect" });

  it("keeps known OS codes, reports ENETUNREACH as EHOSTUNREACH and anything else as ECONNRESET", async () => {
    for (const [code, expected] of [
      ["EHOSTUNREACH", "EHOSTUNREACH"],
      ["ENETUNREACH", "EHOSTUNREACH"],
      ["ECONNREFUSED", "ECONNREFUSED"],
      ["EADDRINUSE", "EADDRINUSE"],
      ["EPIPE", "ECONNRESET"],
    ] as const) {
      const cause = sysError(code, -113);
      const error = TransportError.from(cause, "tcp://10.0.0.1:5555");
      assert.equal(error.code, expected, code);
      assert.equal(error.errno, -113);
      assert.equal(error.address, "tcp://10.0.0.1:5555");
      assert.equal(error.cause, cause);
      assert.equal(error.message, cause.message);
    }
    const already = new TransportError("ETIMEDOUT", "timed out");
    assert.equal(TransportError.from(already), already);
  });
});

// ---------------------------------------------------------------- inproc

describe("inproc", () => {
  it("is not handled here: listen and dial reject with ENOTSUP", async () => {
    const ep = parseEndpoint("inproc://queue", "bind");
    await rejectsWith(listen(ep, () => {}), "ENOTSUP", NotSupportedError);
    await rejectsWith(dial(ep), "ENOTSUP", NotSupportedError);
  });
});
