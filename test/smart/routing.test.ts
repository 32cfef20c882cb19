// Send modes between real smart Sockets on loopback: publish, round-robin,
// identity sends, many connections on one bind socket, buffering before a
// peer, and the errors a sender gets.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgainError, HostUnreachableError, InvalidArgumentError, SmartSocket } from "../../src/index.js";
import { nextEvent, peers, recvStrings, smartScope } from "./scope.js";

const CONNECTIONS = 200;

describe("smart Socket routing", () => {
  const track = smartScope();

  it("exchanges messages both ways between a bind and a connect socket", { timeout: 10_000 }, async () => {
    const server = track(new SmartSocket());
    const endpoint = await server.bind("tcp://127.0.0.1:0");
    assert.match(endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(server.endpoints, [endpoint]);
    const client = track(new SmartSocket());
    await client.connect(endpoint);
    await client.send(Buffer.from("ping"));
    await client.sendJson({ n: 1 });
    const [identity, data] = await server.recvIdentity();
    assert.deepEqual(identity, client.identity);
    assert.equal(data.toString(), "ping");
    assert.deepEqual(await server.recvJson(), { n: 1 });
    await server.sendString("pong");
    assert.equal(await client.recvString(), "pong");
  });

  it("bind and connect take host and port as well as endpoint strings", { timeout: 10_000 }, async () => {
    const server = track(new SmartSocket());
    const endpoint = await server.bind("127.0.0.1", 0);
    const port = Number(endpoint.split(":").pop());
    const client = track(new SmartSocket());
    await client.connect("127.0.0.1", port);
    await client.send("by host and port");
    assert.equal(await server.recvString(), "by host and port");
  });

  it(`publish reaches every one of ${CONNECTIONS} peers`, { timeout: 60_000 }, async () => {
    const server = track(new SmartSocket({ sendMode: "publish" }));
    const endpoint = await server.bind("tcp://127.0.0.1:0");
    const clients = Array.from({ length: CONNECTIONS }, () => track(new SmartSocket()));
    await Promise.all(clients.map((c) => c.connect(endpoint)));
    await peers(server, CONNECTIONS);
    for (let i = 0; i < 3; i++) await server.send(`news ${i}`);
    const got = await Promise.all(clients.map((c) => recvStrings(c, 3)));
    for (const messages of got) assert.deepEqual(messages, ["news 0", "news 1", "news 2"]);
  });

  it(`round-robin spreads messages evenly over ${CONNECTIONS} peers`, { timeout: 60_000 }, async () => {
    const server = track(new SmartSocket({ sendMode: "roundrobin" }));
    const endpoint = await server.bind("tcp://127.0.0.1:0");
    const clients = Array.from({ length: CONNECTIONS }, () => track(new SmartSocket()));
    await Promise.all(clients.map((c) => c.connect(endpoint)));
    await peers(server, CONNECTIONS);
    const perPeer = 5;
    for (let i = 0; i < CONNECTIONS * perPeer; i++) await server.send(`task ${i}`);
    const got = await Promise.all(clients.map((c) => recvStrings(c, perPeer)));
    const all = got.flat();
    assert.equal(new Set(all).size, CONNECTIONS * perPeer, "every task went to exactly one peer");
    for (const messages of got) assert.equal(messages.length, perPeer);
  });

  it(`identity replies reach the right one of ${CONNECTIONS} peers`, { timeout: 60_000 }, async () => {
    const server = track(new SmartSocket({ sendMode: "publish" }));
    const endpoint = await server.bind("tcp://127.0.0.1:0");
    const clients = Array.from({ length: CONNECTIONS }, () => track(new SmartSocket()));
    await Promise.all(clients.map((c) => c.connect(endpoint)));
    await Promise.all(clients.map((c, i) => c.send(`client ${i}`)));
    for (let n = 0; n < CONNECTIONS; n++) {
      const [identity, data] = await server.recvIdentity();
      // Even on a publish socket, an identity send goes to that peer only.
      await server.send(`reply to ${data.toString()}`, { identity });
    }
    const replies = await Promise.all(clients.map((c) => c.recvString()));
    replies.forEach((reply, i) => assert.equal(reply, `reply to client ${i}`));
  });

  it("a socket can connect to many bind sockets and round-robin over them", { timeout: 10_000 }, async () => {
    const a = track(new SmartSocket());
    const b = track(new SmartSocket());
    const client = track(new SmartSocket());
    await client.connect(await a.bind("tcp://127.0.0.1:0"));
    await client.connect(await b.bind("tcp://127.0.0.1:0"));
    await peers(client, 2);
    for (let i = 0; i < 4; i++) await client.send(`m${i}`);
    const fromA = await recvStrings(a, 2);
    const fromB = await recvStrings(b, 2);
    assert.deepEqual([...fromA, ...fromB].sort(), ["m0", "m1", "m2", "m3"]);
  });

  it("sends made before any peer are buffered and flushed in order when one arrives", { timeout: 10_000 }, async () => {
    const client = track(new SmartSocket());
    const server = track(new SmartSocket());
    const endpoint = await server.bind("tcp://127.0.0.1:0");
    for (let i = 0; i < 50; i++) await client.send(`early ${i}`);
    await client.connect(endpoint);
    assert.deepEqual(await recvStrings(server, 50), Array.from({ length: 50 }, (_, i) => `early ${i}`));
  });

  it("a full send buffer with sendTimeout 0 rejects with EAGAIN; the buffered messages are kept", { timeout: 10_000 }, async () => {
    const client = track(new SmartSocket({ sendBufferSize: 3, sendTimeout: 0 }));
    for (let i = 0; i < 3; i++) await client.send(`kept ${i}`);
    await assert.rejects(client.send("one too many"), (e: unknown) => e instanceof AgainError && e.code === "EAGAIN");
    const server = track(new SmartSocket());
    await client.connect(await server.bind("tcp://127.0.0.1:0"));
    assert.deepEqual(await recvStrings(server, 3), ["kept 0", "kept 1", "kept 2"]);
  });

  it("a full send buffer makes send() wait (back-pressure) until a peer takes messages", { timeout: 10_000 }, async () => {
    const client = track(new SmartSocket({ sendBufferSize: 2 }));
    await client.send("a");
    await client.send("b");
    let settled = false;
    const third = client.send("c").then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, "the third send waits while the buffer is full");
    const server = track(new SmartSocket());
    await client.connect(await server.bind("tcp://127.0.0.1:0"));
    await third;
    assert.deepEqual(await recvStrings(server, 3), ["a", "b", "c"]);
  });

  it("a full send buffer with a sendTimeout rejects with EAGAIN when no room comes in time", { timeout: 10_000 }, async () => {
    const client = track(new SmartSocket({ sendBufferSize: 1, sendTimeout: 20 }));
    await client.send("fills it");
    await assert.rejects(client.send("waits, then gives up"), AgainError);
  });

  it("a send to an identity that is not connected rejects with EHOSTUNREACH", { timeout: 10_000 }, async () => {
    const server = track(new SmartSocket());
    await server.bind("tcp://127.0.0.1:0");
    await assert.rejects(
      server.send("hello?", { identity: Buffer.alloc(16, 9) }),
      (e: unknown) => e instanceof HostUnreachableError && e.code === "EHOSTUNREACH",
    );
    await assert.rejects(server.send("x", { identity: Buffer.alloc(3) }), InvalidArgumentError);
  });

  it("an identity send after that peer left rejects with EHOSTUNREACH", { timeout: 10_000 }, async () => {
    const server = track(new SmartSocket());
    const endpoint = await server.bind("tcp://127.0.0.1:0");
    const client = new SmartSocket();
    await client.connect(endpoint);
    await client.send("hi");
    const [identity] = await server.recvIdentity();
    const gone = nextEvent(server, "disconnect");
    await client.close();
    await gone;
    await assert.rejects(server.send("too late", { identity }), HostUnreachableError);
  });

  it("send() refuses data that is not bytes or a string", { timeout: 5_000 }, async () => {
    const sock = track(new SmartSocket());
    await assert.rejects(sock.send(42 as unknown as string), InvalidArgumentError);
    await assert.rejects(sock.sendJson(() => 1), InvalidArgumentError);
  });
});
