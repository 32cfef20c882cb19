// One port for raw streams and WebSocket: the first byte decides. Raw
// streams pass as accepted; 'G' gets a WebSocket upgrade whose binary
// payload reads as a byte stream; anything else is closed. Text messages
// close with 1003, unmasked client frames with 1002; no extension is
// negotiated.
import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { sniffFirstByte, WebSocketUpgrader } from "../../src/transport/websocket.js";

const T = { timeout: 10_000 };

describe("raw and WebSocket peers on one port", () => {
  let server: net.Server;
  let port: number;
  const upgrader = new WebSocketUpgrader({ maxPayload: 1024 * 1024 });
  const kinds: string[] = [];

  before(async () => {
    server = net.createServer(async (sock) => {
      const first = await sniffFirstByte(sock);
      if (first === 0x00) {
        kinds.push("raw");
        sock.pipe(sock); // echo
      } else if (first === 0x47) {
        kinds.push("ws");
        const stream = await upgrader.upgrade(sock).catch(() => undefined);
        // Like a socket, the stream reports a peer's protocol error on "error" before it closes.
        stream?.on("error", (error: Error) => kinds.push(`error ${error.message}`));
        stream?.pipe(stream); // echo the payload, whatever the message boundaries
      } else {
        kinds.push(`refused ${String(first)}`);
        sock.destroy();
      }
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    upgrader.close();
    server.close();
  });

  it("a raw stream starting with 0x00 passes as it is", T, async () => {
    const sock = net.connect(port, "127.0.0.1");
    const bytes = Buffer.from("000000120101" + "22".repeat(16), "hex");
    sock.write(bytes);
    const [echo] = (await once(sock, "data")) as [Buffer];
    assert.deepEqual(echo, bytes);
    sock.destroy();
  });

  it("a WebSocket peer's binary payload is a byte stream; no extension is negotiated", T, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await once(ws, "open");
    assert.equal(ws.extensions, "");
    let got = Buffer.alloc(0);
    const all = new Promise<void>((resolve) => {
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        assert.equal(isBinary, true);
        got = Buffer.concat([got, data]);
        if (got.length >= 6) resolve();
      });
    });
    ws.send(Buffer.from("abc"));
    ws.send(Buffer.from("def"));
    await all;
    assert.equal(got.toString(), "abcdef");
    ws.close();
  });

  it("a text message closes with 1003", T, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await once(ws, "open");
    ws.send("text");
    const [code] = (await once(ws, "close")) as [number];
    assert.equal(code, 1003);
  });

  it("an unmasked client frame closes with 1002", T, async () => {
    const sock = net.connect(port, "127.0.0.1");
    sock.write("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    let reply = Buffer.alloc(0);
    while (!reply.includes("\r\n\r\n")) reply = Buffer.concat([reply, ((await once(sock, "data")) as [Buffer])[0]]);
    assert.match(reply.toString("latin1"), /^HTTP\/1.1 101 /);
    sock.write(Buffer.from([0x82, 0x03, 0x61, 0x62, 0x63])); // binary "abc", no mask
    let rest = reply.subarray(reply.indexOf("\r\n\r\n") + 4);
    while (rest.length < 4) rest = Buffer.concat([rest, ((await once(sock, "data")) as [Buffer])[0]]);
    assert.equal(rest[0], 0x88, "a close frame");
    assert.equal(rest.readUInt16BE(2), 1002);
    sock.destroy();
    assert.ok(kinds.some((k) => /MASK must be set/.test(k)), "the stream reported why");
  });

  it("any other first byte is closed, and a plain HTTP request is answered 426", T, async () => {
    const other = net.connect(port, "127.0.0.1");
    other.write(Buffer.from([0x16, 0x03, 0x01]));
    await once(other, "close");
    assert.ok(kinds.includes("refused 22"));
    const http = net.connect(port, "127.0.0.1");
    http.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const [answer] = (await once(http, "data")) as [Buffer];
    assert.match(answer.toString("latin1"), /^HTTP\/1.1 426 /);
    http.destroy();
  });
});
