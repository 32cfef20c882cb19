// Heartbeats, dead-link detection and reconnection, on an injected fake
// clock: time moves only when a test ticks it, the network is real loopback.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SmartSocket } from "../../src/index.js";
import { TYPE_DATA, TYPE_HEARTBEAT, TYPE_HELLO, encodeData, encodeHello } from "../../src/smart/index.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { RawPeer, RawServer, id } from "./raw-peer.js";
import { freePort, nextEvent, smartScope } from "./scope.js";

describe("smart Socket heartbeats", () => {
  const track = smartScope();

  it("the bind end sends HEARTBEAT only after heartbeatInterval without sending", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const sock = track(new SmartSocket({ clock, heartbeatInterval: 5000, heartbeatTimeout: 60_000 }));
    const raw = track(await RawPeer.connect(await sock.bind("tcp://127.0.0.1:0")));
    assert.equal((await raw.next()).type, TYPE_HELLO);
    raw.write(encodeHello(id(1)));
    await nextEvent(sock, "connect");
    // t=0: connected. At t=3000 a message goes out, which postpones the heartbeat.
    clock.tick(3000);
    await sock.send("busy");
    assert.equal((await raw.next()).type, TYPE_DATA);
    clock.tick(2000); // t=5000: idle for 2000 only
    clock.tick(2999); // t=7999: idle for 4999
    await sock.send("marker");
    const next = await raw.next();
    assert.equal(next.type, TYPE_DATA, "no heartbeat while messages flow");
    assert.equal(next.body.toString(), "marker");
    clock.tick(5000); // idle for 5000 after the marker
    assert.equal((await raw.next()).type, TYPE_HEARTBEAT);
    clock.tick(5000);
    assert.equal((await raw.next()).type, TYPE_HEARTBEAT, "and again after each idle interval");
  });

  it("the bind end tears down a connection silent for heartbeatTimeout; anything received resets it", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const sock = track(new SmartSocket({ clock, heartbeatInterval: 5000, heartbeatTimeout: 15_000 }));
    const raw = track(await RawPeer.connect(await sock.bind("tcp://127.0.0.1:0")));
    raw.write(encodeHello(id(2)));
    await nextEvent(sock, "connect");
    clock.tick(10_000);
    raw.write(encodeData(Buffer.from("alive")));
    assert.equal(await sock.recvString(), "alive"); // received at t=10000
    clock.tick(14_999);
    assert.equal(sock.peerCount, 1, "still up 14999 ms after the last frame");
    const lost = nextEvent(sock, "disconnect");
    clock.tick(1);
    const [info] = await lost;
    assert.equal(info.error?.code, "ERR_AIOMSG_HEARTBEAT_TIMEOUT");
    await raw.closed;
  });

  it("a connection that never sends its HELLO is closed after heartbeatTimeout", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const sock = track(new SmartSocket({ clock, heartbeatTimeout: 15_000 }));
    const raw = track(await RawPeer.connect(await sock.bind("tcp://127.0.0.1:0")));
    await raw.next(); // our HELLO arrived: the connection is set up on both sides
    const failed = nextEvent(sock, "protocol-error");
    clock.tick(15_000);
    const [event] = await failed;
    assert.equal(event.error.code, "ERR_AIOMSG_HEARTBEAT_TIMEOUT");
    await raw.closed;
  });

  it("the connect end heartbeats, detects a silent bind end, and reconnects", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const server = await RawServer.listen();
    track(server);
    const sock = track(new SmartSocket({ clock, heartbeatInterval: 5000, heartbeatTimeout: 15_000, reconnectDelay: () => 100 }));
    await sock.connect(server.endpoint);
    const first = await server.accept();
    first.write(encodeHello(id(3)));
    await nextEvent(sock, "connect");
    clock.tick(5000);
    assert.equal((await first.next(TYPE_HEARTBEAT, TYPE_DATA)).type, TYPE_HEARTBEAT);
    const lost = nextEvent(sock, "disconnect");
    clock.tick(10_000); // 15000 ms without a frame from the raw server
    assert.equal((await lost)[0].error?.code, "ERR_AIOMSG_HEARTBEAT_TIMEOUT");
    await first.closed;
    clock.tick(100);
    const second = await server.accept();
    assert.equal((await second.next()).type, TYPE_HELLO, "a new connection after reconnectDelay");
  });

  it("a full receive queue pauses reading without counting the pause as silence", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const sock = track(new SmartSocket({ clock, heartbeatTimeout: 15_000, receiveBufferSize: 2 }));
    const raw = track(await RawPeer.connect(await sock.bind("tcp://127.0.0.1:0")));
    raw.write(encodeHello(id(4)), encodeData(Buffer.from("1")), encodeData(Buffer.from("2")), encodeData(Buffer.from("3")));
    await nextEvent(sock, "connect");
    clock.tick(20_000); // the application did not read; the peer is not to blame
    assert.equal(sock.peerCount, 1);
    assert.deepEqual([await sock.recvString(), await sock.recvString(), await sock.recvString()], ["1", "2", "3"]);
  });
});

describe("smart Socket reconnection", () => {
  const track = smartScope();

  it("waits reconnectDelay(attempt) between attempts and restarts at 1 after a connection", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const port = await freePort();
    const calls: number[] = [];
    let called: () => void = () => {};
    const sock = track(new SmartSocket({
      clock,
      reconnectDelay: (attempt) => {
        calls.push(attempt);
        called();
        return 1000 * attempt;
      },
    }));
    const nextCall = (): Promise<void> => new Promise((resolve) => (called = resolve));

    let call = nextCall();
    await sock.connect("127.0.0.1", port); // nothing listens: refused
    await call;
    assert.deepEqual(calls, [1]);
    assert.equal(clock.nextDue(), 1000, "the next attempt waits the delay the function returned");
    call = nextCall();
    clock.tick(1000);
    await call;
    assert.deepEqual(calls, [1, 2]);
    assert.equal(clock.nextDue(), 1000 + 2000);

    const server = track(await RawServer.listen(port));
    clock.tick(2000);
    const raw = await server.accept();
    raw.write(encodeHello(id(5)));
    await nextEvent(sock, "connect");
    assert.deepEqual(calls, [1, 2], "no delay before the attempt that succeeded");

    call = nextCall();
    raw.destroy();
    await call;
    assert.deepEqual(calls, [1, 2, 1], "the count restarts after a connection that completed its HELLO exchange");
    clock.tick(1000);
    const again = await server.accept();
    assert.equal((await again.next()).type, TYPE_HELLO);
  });

  it("keeps sends made while disconnected and flushes them in order after reconnecting", { timeout: 10_000 }, async () => {
    const first = new SmartSocket();
    const endpoint = await first.bind("tcp://127.0.0.1:0");
    const client = track(new SmartSocket({ reconnectDelay: () => 5 }));
    await client.connect(endpoint);
    await client.send("before");
    assert.equal(await first.recvString(), "before");
    const lost = nextEvent(client, "disconnect");
    await first.close();
    await lost;
    for (let i = 0; i < 20; i++) await client.send(`while away ${i}`);
    const second = track(new SmartSocket());
    await second.bind(endpoint);
    for (let i = 0; i < 20; i++) assert.equal(await second.recvString(), `while away ${i}`);
  });
});
