/**
 * WebSocket on a listener's own port: the first byte of an accepted stream
 * (after TLS, if any) says what it is. `0x00` starts a raw length-prefixed
 * stream (a HELLO's length is `00 00 00 12`); `G` starts an HTTP GET, the
 * WebSocket upgrade; anything else is refused.
 *
 * ```
 *   accepted stream ── sniffFirstByte ──┬─ 0x00 ─▶ raw stream (as accepted)
 *                                       ├─ 'G'  ─▶ upgradeToWebSocket ─▶ Duplex of the binary payload
 *                                       └─ else ─▶ closed
 * ```
 *
 * After the upgrade the stream of bytes travels as the payload of binary
 * WebSocket messages; message boundaries carry no meaning, so the result is
 * a plain byte Duplex the protocol above reads as it would a socket. No
 * subprotocol or extension is negotiated (no permessage-deflate). A text
 * message closes the connection with 1003; an unmasked client frame with
 * 1002 (the ws library's check); pings are answered.
 *
 * ws is loaded on the first upgrade only: raw peers never pay for it.
 */
import { Duplex } from "node:stream";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { WebSocket as WsSocket, WebSocketServer } from "ws";
import { TransportError } from "../errors.js";

/**
 * Reads the first byte of `stream` without consuming it; undefined if the
 * stream ended or failed first. The stream is left as it was found (neither
 * flowing nor paused), so whoever reads it next starts with that byte.
 */
export function sniffFirstByte(stream: Duplex): Promise<number | undefined> {
  return new Promise((resolve) => {
    const done = (value: number | undefined): void => {
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      stream.off("error", onEnd);
      resolve(value);
    };
    const onReadable = (): void => {
      const chunk = stream.read() as Buffer | null;
      if (chunk === null || chunk.length === 0) return;
      // Removing the last "readable" listener (in done) returns the stream
      // to its initial mode: a later "data" listener starts it flowing.
      stream.unshift(chunk);
      done(chunk[0]);
    };
    const onEnd = (): void => done(undefined);
    stream.on("readable", onReadable);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
    stream.once("error", onEnd);
  });
}

export interface WebSocketOptions {
  /** Largest WebSocket message accepted, bytes. */
  maxPayload: number;
}

/**
 * Answers the WebSocket upgrade waiting on `stream` (its first bytes are the
 * HTTP request) and resolves with a Duplex carrying the binary messages'
 * payload. Anything but a WebSocket upgrade is answered 426 and closed.
 */
export class WebSocketUpgrader {
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly waiting = new WeakMap<Duplex, { resolve(d: Duplex): void; reject(e: Error): void }>();

  constructor(private readonly options: WebSocketOptions) {}

  async upgrade(stream: Duplex): Promise<Duplex> {
    const server = await this.ensureServer();
    return new Promise<Duplex>((resolve, reject) => {
      this.waiting.set(stream, { resolve, reject });
      stream.once("close", () => reject(new TransportError("ECONNRESET", "the connection closed before its WebSocket upgrade")));
      server.emit("connection", stream);
      stream.resume();
    });
  }

  close(): void {
    this.wss?.close();
    this.server?.close();
  }

  private async ensureServer(): Promise<Server> {
    if (this.server) return this.server;
    const { WebSocketServer: Wss } = await import("ws");
    const wss = new Wss({ noServer: true, perMessageDeflate: false, maxPayload: this.options.maxPayload });
    const server = createServer((_req, res) => {
      res.writeHead(426, { "content-type": "text/plain", connection: "close" });
      res.end("a WebSocket upgrade is expected here\n");
    });
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const pending = this.waiting.get(socket);
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (pending) pending.resolve(wsDuplex(ws));
        else ws.close(1011, "unexpected upgrade");
      });
    });
    server.on("clientError", (_error, socket: Duplex) => socket.destroy());
    this.server = server;
    this.wss = wss;
    return server;
  }
}

/** The payload of a WebSocket's binary messages as one byte stream, both ways. */
function wsDuplex(ws: WsSocket): Duplex {
  const duplex = new Duplex({
    read() {
      ws.resume?.();
    },
    write(chunk: Buffer, _encoding, callback) {
      ws.send(chunk, { binary: true }, callback);
    },
    final(callback) {
      ws.close(1000);
      callback();
    },
    destroy(error, callback) {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
      callback(error);
    },
  });
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      ws.close(1003, "binary messages only");
      return;
    }
    if (!duplex.push(data)) ws.pause?.();
  });
  ws.on("close", () => duplex.push(null));
  ws.on("error", (error) => duplex.destroy(error));
  return duplex;
}
