// The browser client's protocol logic, run in Node against a real WebSocket
// server (the ws package) that speaks raw aiomsg v1 frames from the spec's
// vectors. (test/browser/chromium.test.ts runs the same client in a browser.)
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { SmartClient } from "../../src/browser/smart-client.js";

const T = { timeout: 10_000 };
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const V = {
  hello22: hex("00000012 01 01 22222222222222222222222222222222"),
  data: hex("00000006 03 68656c6c6f"),
  dataReq: hex("00000016 04 97a28638c61947849cf4e28daf26ee20 7265712d31"),
  ack: hex("00000011 05 97a28638c61947849cf4e28daf26ee20"),
  heartbeat: hex("00000001 02"),
};

async function server(): Promise<{ wss: WebSocketServer; url: string; peer: Promise<WebSocket> }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const { port } = wss.address() as { port: number };
  const peer = once(wss, "connection").then(([ws]) => ws as WebSocket);
  return { wss, url: `ws://127.0.0.1:${port}/`, peer };
}

/** Collects what the client sends, as one byte stream (message boundaries carry no meaning). */
function stream(ws: WebSocket): { bytes(): Buffer; until(n: number): Promise<Buffer> } {
  let all = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  ws.on("message", (data: Buffer) => {
    all = Buffer.concat([all, data]);
    for (const w of waiters.splice(0)) w();
  });
  return {
    bytes: () => all,
    until: async (n) => {
      while (all.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
      return all;
    },
  };
}

describe("browser smart client (in Node, against a raw v1 peer)", () => {
  it("says HELLO, takes a pipelined HELLO + DATA + unknown + DATA_REQ, and ACKs after handing the payload out", T, async () => {
    const { wss, url, peer } = await server();
    try {
      const identity = Buffer.alloc(16, 0x11);
      const connecting = SmartClient.connect(url, { identity, WebSocket: WebSocket as never });
      const ws = await peer;
      const sent = stream(ws);
      // Everything in one WebSocket message, split mid-frame across a second one.
      const unknown = hex("00000003 7f abcd");
      const all = Buffer.concat([V.hello22, V.data, unknown, V.dataReq]);
      ws.send(all.subarray(0, 30));
      ws.send(all.subarray(30));
      const client = await connecting;
      assert.deepEqual(Buffer.from(client.peerIdentity!), Buffer.alloc(16, 0x22));
      assert.equal(Buffer.from((await client.recv())!).toString(), "hello");
      assert.equal(Buffer.from((await client.recv())!).toString(), "req-1");
      const bytes = await sent.until(V.hello22.length + V.ack.length);
      assert.deepEqual(bytes.subarray(0, 22), hex("00000012 01 01 11111111111111111111111111111111"));
      assert.deepEqual(bytes.subarray(22), V.ack);
      client.send("hello");
      assert.deepEqual((await sent.until(22 + V.ack.length + V.data.length)).subarray(22 + V.ack.length), V.data);
      client.close();
      assert.equal(await client.closed, "closed");
      assert.equal(await client.recv(), undefined);
    } finally {
      wss.close();
    }
  });

  it("sends HEARTBEAT when idle and closes when the peer falls silent", T, async () => {
    const { wss, url, peer } = await server();
    try {
      const connecting = SmartClient.connect(url, { WebSocket: WebSocket as never, heartbeatInterval: 40, heartbeatTimeout: 400 });
      const ws = await peer;
      const sent = stream(ws);
      ws.send(V.hello22);
      const client = await connecting;
      const bytes = await sent.until(22 + V.heartbeat.length);
      assert.deepEqual(bytes.subarray(22, 27), V.heartbeat);
      assert.equal(await client.closed, "heartbeat timeout");
    } finally {
      wss.close();
    }
  });

  it("refuses a peer that does not start with a version 1 HELLO, and text messages", T, async () => {
    for (const bad of [hex("00000012 01 02 22222222222222222222222222222222"), V.data]) {
      const { wss, url, peer } = await server();
      try {
        const connecting = SmartClient.connect(url, { WebSocket: WebSocket as never });
        (await peer).send(bad);
        await assert.rejects(connecting, /version 1 HELLO/);
      } finally {
        wss.close();
      }
    }
    const { wss, url, peer } = await server();
    try {
      const connecting = SmartClient.connect(url, { WebSocket: WebSocket as never });
      const ws = await peer;
      ws.send(V.hello22);
      const client = await connecting;
      ws.send("text");
      assert.match(await client.closed, /text WebSocket messages/);
    } finally {
      wss.close();
    }
  });
});
