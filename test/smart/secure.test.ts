// TLS and WebSocket transport targets of the smart Socket: certificate
// verification on by default, raw and WebSocket peers on one TLS port, raw
// and WebSocket on one plain port, and streams that say nothing closed.
import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import type { Duplex } from "node:stream";
import { describe, it } from "node:test";
import WebSocket from "ws";
import { tlsBind, tlsConnect, withWebSocket } from "../../src/smart/secure.js";
import { tcpBind } from "../../src/smart/transport.js";
import type { SwitchboardError } from "../../src/index.js";
import { testCertificates } from "../helpers/tls-certs.js";

const T = { timeout: 15_000 };
const HELLO = Buffer.from("000000120101" + "33".repeat(16), "hex");
const portOf = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));

/** Listens; resolves `accepted` with each stream handed over. */
async function listenOn(target: ReturnType<typeof tlsBind>): Promise<{ port: number; next(): Promise<Duplex>; close(): Promise<void> }> {
  const queue: Duplex[] = [];
  const waiting: Array<(d: Duplex) => void> = [];
  const listener = await target.listen((stream) => {
    const w = waiting.shift();
    if (w) w(stream);
    else queue.push(stream);
  });
  return {
    port: portOf(listener.endpoint),
    next: () => {
      const s = queue.shift();
      return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () => listener.close(),
  };
}

async function firstChunk(stream: Duplex): Promise<Buffer> {
  const [chunk] = (await once(stream, "data")) as [Buffer];
  return chunk;
}

describe("smart Socket transports: TLS and WebSocket", () => {
  it("TLS: a client trusting the CA connects, and raw bytes pass both ways", T, async () => {
    const { ca, key, cert } = testCertificates();
    const server = await listenOn(tlsBind("127.0.0.1", 0, { key, cert }));
    try {
      const client = await tlsConnect("127.0.0.1", server.port, { ca }).dial(new AbortController().signal);
      client.write(HELLO);
      const accepted = await server.next();
      assert.deepEqual(await firstChunk(accepted), HELLO);
      accepted.write("back");
      assert.equal((await firstChunk(client)).toString(), "back");
      client.destroy();
    } finally {
      await server.close();
    }
  });

  it("TLS: verification is on by default: an unknown CA or a wrong name is refused", T, async () => {
    const { ca, key, cert, otherCa } = testCertificates();
    const server = await listenOn(tlsBind("127.0.0.1", 0, { key, cert }));
    try {
      const signal = new AbortController().signal;
      for (const options of [{}, { ca: otherCa }, { ca, servername: "not-this-host.example" }]) {
        await assert.rejects(tlsConnect("127.0.0.1", server.port, options).dial(signal), (e: SwitchboardError) => {
          assert.match(e.message, /certificate|self.signed|Hostname|altnames|issuer/i, e.message);
          return true;
        });
      }
      // Explicitly turned off, it connects.
      const insecure = await tlsConnect("127.0.0.1", server.port, { rejectUnauthorized: false }).dial(signal);
      insecure.destroy();
    } finally {
      await server.close();
    }
  });

  it("TLS: a WebSocket peer (wss) on the same port gets its binary payload through as bytes", T, async () => {
    const { ca, key, cert } = testCertificates();
    const server = await listenOn(tlsBind("127.0.0.1", 0, { key, cert }, { websocket: true }));
    try {
      const ws = new WebSocket(`wss://localhost:${server.port}/`, { ca });
      await once(ws, "open");
      ws.send(HELLO);
      const accepted = await server.next();
      assert.deepEqual(await firstChunk(accepted), HELLO);
      ws.close();
    } finally {
      await server.close();
    }
  });

  it("plain: raw and WebSocket peers share a port; other first bytes and silent streams are closed", T, async () => {
    const server = await listenOn(withWebSocket(tcpBind("127.0.0.1", 0), { firstByteTimeoutMs: 50 }));
    try {
      const raw = net.connect(server.port, "127.0.0.1");
      raw.write(HELLO);
      assert.deepEqual(await firstChunk(await server.next()), HELLO);
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
      await once(ws, "open");
      ws.send(HELLO);
      assert.deepEqual(await firstChunk(await server.next()), HELLO);
      const other = net.connect(server.port, "127.0.0.1");
      other.write("X");
      await once(other, "close");
      const silent = net.connect(server.port, "127.0.0.1");
      await once(silent, "close"); // closed after the first-byte timeout
      raw.destroy();
      ws.close();
    } finally {
      await server.close();
    }
  });
});
