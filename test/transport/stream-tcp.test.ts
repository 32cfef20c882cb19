// tcp listeners and dialers, dial abort/timeout, and error mapping.
import { strict as assert } from "node:assert";
import { once } from "node:events";
import { Socket as NetSocket } from "node:net";
import { describe } from "node:test";
import { CanceledError, SwitchboardError, TransportError } from "../../src/errors.js";
import { parseEndpoint } from "../../src/transport/endpoint.js";
import { dial, listen } from "../../src/transport/stream.js";
import {
  it,
  NetSocketProto,
  streams,
  Acceptor,
  bind,
  connect,
  closedByPeer,
  exchange,
  connectPair,
  rejectsWith,
  portOf,
  hasIPv6Loopback,
} from "./stream-support.js";

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
