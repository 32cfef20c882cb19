// Options, close() and its flushing, `await using`, and back-pressure from
// a receiver that does not read.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgainError, ClosedError, InvalidArgumentError, NotDeliveredError, SmartSocket, smart } from "../../src/index.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { freePort, nextEvent, recvStrings, smartScope } from "./scope.js";

describe("smart Socket options", () => {
  const refused: Array<[string, Record<string, unknown>]> = [
    ["an unknown option", { sendmode: "publish" }],
    ["a bad sendMode", { sendMode: "broadcast" }],
    ["a bad delivery", { delivery: "exactly-once" }],
    ["publish with at-least-once", { sendMode: "publish", delivery: "at-least-once" }],
    ["an identity of 15 bytes", { identity: Buffer.alloc(15) }],
    ["an identity of 31 hex digits", { identity: "a".repeat(31) }],
    ["a reconnectDelay that is not a function", { reconnectDelay: 100 }],
    ["a zero heartbeatInterval", { heartbeatInterval: 0 }],
    ["a fractional heartbeatTimeout", { heartbeatTimeout: 1.5 }],
    ["a negative sendBufferSize", { sendBufferSize: -1 }],
    ["a sendTimeout below -1", { sendTimeout: -2 }],
    ["maxAckTimeout below ackTimeout", { ackTimeout: 5000, maxAckTimeout: 1000 }],
    ["a maxFrameSize too small for a HELLO", { maxFrameSize: 10 }],
  ];
  for (const [what, options] of refused) {
    it(`refuses ${what} with EINVAL`, { timeout: 5_000 }, () => {
      assert.throws(() => new SmartSocket(options as smart.SocketOptions), (e: unknown) => e instanceof InvalidArgumentError && e.code === "EINVAL");
    });
  }

  it("takes an identity as 16 bytes or 32 hex digits, and makes a random UUIDv4 one by default", { timeout: 5_000 }, () => {
    assert.deepEqual(new SmartSocket({ identity: Buffer.alloc(16, 5) }).identity, Buffer.alloc(16, 5));
    assert.deepEqual(new SmartSocket({ identity: "0f".repeat(16) }).identity, Buffer.alloc(16, 0x0f));
    const a = new SmartSocket().identity;
    const b = new SmartSocket().identity;
    assert.equal(a.length, 16);
    assert.notDeepEqual(a, b);
    assert.equal(a[6]! >> 4, 4, "version 4");
    assert.equal(a[8]! >> 6, 2, "RFC 4122 variant");
  });

  it("the default reconnect delay starts near 100 ms and backs off to at most 5 s, with jitter", { timeout: 5_000 }, () => {
    assert.equal(smart.defaultReconnectDelay(1, () => 0), 50);
    assert.equal(smart.defaultReconnectDelay(1, () => 0.999999), 100);
    assert.equal(smart.defaultReconnectDelay(3, () => 1), 400);
    assert.equal(smart.defaultReconnectDelay(20, () => 1), 5000);
    assert.equal(smart.defaultReconnectDelay(20, () => 0), 2500);
  });
});

describe("smart Socket close", () => {
  const track = smartScope();

  it("close({ timeoutMs }) flushes everything already sent before ending the connections", { timeout: 20_000 }, async () => {
    const server = track(new SmartSocket());
    const client = new SmartSocket();
    await client.connect(await server.bind("tcp://127.0.0.1:0"));
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < 3000; i++) sends.push(client.send(`m${i}`));
    await client.close({ timeoutMs: 10_000 });
    await Promise.all(sends);
    const got = await recvStrings(server, 3000);
    assert.deepEqual(got, Array.from({ length: 3000 }, (_, i) => `m${i}`));
  });

  it("close() waits, within its timeout, for a peer to take messages buffered before any connection", { timeout: 20_000 }, async () => {
    const port = await freePort();
    const client = new SmartSocket({ reconnectDelay: () => 10 });
    await client.connect("127.0.0.1", port);
    for (let i = 0; i < 3; i++) await client.send(`buffered ${i}`);
    const closing = client.close({ timeoutMs: 10_000 });
    const server = track(new SmartSocket());
    await server.bind("127.0.0.1", port);
    assert.deepEqual(await recvStrings(server, 3), ["buffered 0", "buffered 1", "buffered 2"]);
    await closing;
    assert.equal(client.closed, true);
  });

  it("when the timeout passes, close() gives up: unacknowledged sends reject with ENOTDELIVERED", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const sock = new SmartSocket({ clock, delivery: "at-least-once" });
    const sending = sock.send("nobody will take this");
    const failed = assert.rejects(sending, NotDeliveredError);
    const closing = sock.close({ timeoutMs: 1000 });
    clock.tick(1000);
    await closing;
    await failed;
  });

  it("after close: send and bind reject with EBADF, waiting recv() rejects, iterators end", { timeout: 10_000 }, async () => {
    const sock = new SmartSocket();
    const waiting = sock.recv();
    const iterated = (async () => {
      const seen: Buffer[] = [];
      for await (const msg of sock.messages()) seen.push(msg);
      return seen;
    })();
    await sock.close();
    await assert.rejects(waiting, (e: unknown) => e instanceof ClosedError && e.code === "EBADF");
    assert.deepEqual(await iterated, []);
    await assert.rejects(sock.send("late"), ClosedError);
    await assert.rejects(sock.bind("tcp://127.0.0.1:0"), ClosedError);
    await assert.rejects(sock.connect("tcp://127.0.0.1:1"), ClosedError);
    await sock.close(); // idempotent
  });

  it("`await using` closes the socket at the end of the block, and its peer sees the disconnect", { timeout: 10_000 }, async () => {
    const server = track(new SmartSocket());
    const endpoint = await server.bind("tcp://127.0.0.1:0");
    const left = nextEvent(server, "disconnect");
    let escaped: InstanceType<typeof SmartSocket> | undefined;
    {
      await using client = new SmartSocket();
      escaped = client;
      await client.connect(endpoint);
      await client.send("from inside the block");
      assert.equal(await server.recvString(), "from inside the block");
    }
    assert.equal(escaped.closed, true);
    const [info] = await left;
    assert.equal(info.error, undefined, "a clean close");
  });

  it("identityMessages() yields [identity, data] pairs", { timeout: 10_000 }, async () => {
    const server = track(new SmartSocket());
    const client = track(new SmartSocket());
    await client.connect(await server.bind("tcp://127.0.0.1:0"));
    await client.send("a");
    await client.send("b");
    const seen: string[] = [];
    for await (const [identity, data] of server.identityMessages()) {
      assert.deepEqual(identity, client.identity);
      seen.push(data.toString());
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, ["a", "b"]);
  });
});

describe("smart Socket back-pressure", () => {
  const track = smartScope();

  it("a receiver that does not read eventually makes the sender wait; nothing is lost", { timeout: 30_000 }, async () => {
    const receiver = track(new SmartSocket({ receiveBufferSize: 4 }));
    const sender = track(new SmartSocket({ sendBufferSize: 4, peerQueueSize: 4, sendTimeout: 0 }));
    await sender.connect(await receiver.bind("tcp://127.0.0.1:0"));
    await nextEvent(sender, "connect");
    const payload = Buffer.alloc(64 * 1024);
    let sent = 0;
    // Every send is accepted until the receiver's queue, both kernels' buffers
    // and the sender's bounded queues are full; then EAGAIN tells the sender.
    for (;;) {
      payload.writeUInt32BE(sent, 0);
      try {
        await sender.send(Buffer.from(payload));
      } catch (error) {
        assert.ok(error instanceof AgainError);
        break;
      }
      sent++;
      assert.ok(sent < 100_000, "the bounds must stop the sender");
      // Let the writes reach the kernel between sends, as an application doing other work would.
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(sent > 8, `some messages went out (${sent})`);
    for (let i = 0; i < sent; i++) assert.equal((await receiver.recv()).readUInt32BE(0), i);
  });
});
