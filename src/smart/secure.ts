/**
 * TLS and WebSocket for the smart Socket, as transport targets (see
 * transport.ts): the Socket never knows which one a stream came from.
 *
 * ```
 *   sock.bind(tlsBind("0.0.0.0", 25000, { key, cert }))                          TLS
 *   sock.bind(tlsBind("0.0.0.0", 25000, { key, cert }, { websocket: true }))     TLS, then raw or WebSocket
 *   sock.bind(withWebSocket(tcpBind("0.0.0.0", 25000)))                          raw or WebSocket on one port
 *   sock.bind("tcp+ws://0.0.0.0:25000")                                          the same, as an endpoint string
 *   sock.connect(tlsConnect("host", 25000, { ca }))                              certificate verified by default
 * ```
 *
 * Serving WebSocket is asked for, not implied: a port that serves both must
 * wait for each peer's first byte before it knows what the peer speaks, so
 * its HELLO goes out after the peer's first bytes instead of at once (the
 * spec allows it; compliant peers send HELLO at once anyway).
 *
 * A port serving both tells its peers apart by their first byte, after TLS if any:
 * 0x00 is raw aiomsg (a HELLO's length prefix), 'G' an HTTP GET: the
 * WebSocket upgrade, whose binary payload then reads as a byte stream;
 * anything else is closed. A stream that sends nothing within
 * `firstByteTimeoutMs` is closed too, so silent connections cannot pile up.
 */
import * as tls from "node:tls";
import type { Duplex } from "node:stream";
import { CanceledError, InvalidArgumentError, TransportError } from "../errors.js";
import { formatHost } from "../transport/endpoint.js";
import { sniffFirstByte, WebSocketUpgrader } from "../transport/websocket.js";
import { registerScheme, tcpBind, type BindTarget, type ConnectTarget, type SmartListener } from "./transport.js";

export interface WebSocketBindOptions {
  /** tlsBind only: serve WebSocket peers too (default false). */
  websocket?: boolean;
  /** Largest WebSocket message accepted, bytes (default 64 MiB). */
  maxPayload?: number;
  /** Close a stream whose first byte has not come within this long, ms (default 10 000). */
  firstByteTimeoutMs?: number;
}

const RAW_FIRST_BYTE = 0x00;
const HTTP_GET_FIRST_BYTE = 0x47; // 'G'

/** Serves raw and WebSocket peers on `target`'s port, telling them apart by the first byte. */
export function withWebSocket(target: BindTarget, options: WebSocketBindOptions = {}): BindTarget {
  const firstByteTimeoutMs = options.firstByteTimeoutMs ?? 10_000;
  return {
    address: target.address,
    async listen(accept): Promise<SmartListener> {
      const upgrader = new WebSocketUpgrader({ maxPayload: options.maxPayload ?? 64 * 1024 * 1024 });
      const listener = await target.listen((stream) => {
        const timer = setTimeout(() => stream.destroy(), firstByteTimeoutMs);
        timer.unref();
        void sniffFirstByte(stream).then(async (first) => {
          clearTimeout(timer);
          if (first === RAW_FIRST_BYTE) return accept(stream);
          if (first !== HTTP_GET_FIRST_BYTE) return void stream.destroy();
          const ws = await upgrader.upgrade(stream).catch(() => undefined);
          if (!ws) return void stream.destroy();
          ws.on("error", () => {}); // the Socket attaches its own; a failure before that must not crash
          accept(ws);
        });
      });
      return {
        endpoint: listener.endpoint,
        async close() {
          upgrader.close();
          await listener.close();
        },
      };
    },
  };
}

/** TLS on host:port (key and cert in `options`); with `{ websocket: true }`, raw or WebSocket peers as withWebSocket(). */
export function tlsBind(host: string, port: number, options: tls.TlsOptions, websocket: WebSocketBindOptions = {}): BindTarget {
  if (!options.key || !options.cert) {
    if (!options.pfx && !options.SNICallback) throw new InvalidArgumentError("tlsBind needs key and cert (or pfx, or SNICallback)");
  }
  const address = `tls://${formatHost(host)}:${port}`;
  const tlsTarget: BindTarget = {
    address,
    listen(accept) {
      return new Promise<SmartListener>((resolve, reject) => {
        const server = tls.createServer(options, (stream) => {
          stream.on("error", () => {});
          accept(stream);
        });
        // A failed handshake concerns that client only.
        server.on("tlsClientError", (_error, socket) => socket.destroy());
        server.once("error", (error: NodeJS.ErrnoException) => reject(TransportError.from(error, address)));
        server.listen(port, host === "*" ? undefined : host, () => {
          const bound = server.address();
          const endpoint = typeof bound === "object" && bound ? `tls://${formatHost(bound.address)}:${bound.port}` : address;
          resolve({
            endpoint,
            close: () => new Promise<void>((done) => server.close(() => done())),
          });
        });
      });
    },
  };
  return websocket.websocket ? withWebSocket(tlsTarget, websocket) : tlsTarget;
}

/** `tcp+ws://host:port`: raw and WebSocket peers on one tcp port (bind only). */
registerScheme("tcp+ws", {
  bind: (endpoint) => withWebSocket(tcpBind(...hostPort(endpoint))),
  connect: (endpoint) => {
    throw new InvalidArgumentError(`${endpoint}: tcp+ws:// is for bind; connect with tcp:// (or from a browser, ws://)`);
  },
});

function hostPort(endpoint: string): [string, number] {
  const match = /^[a-z+]+:\/\/(\[[^\]]+\]|[^:]+):(\d+)$/.exec(endpoint);
  if (!match) throw new InvalidArgumentError(`not host:port: ${endpoint}`);
  return [match[1]!.replace(/^\[|\]$/g, ""), Number(match[2])];
}

/**
 * TLS to host:port. The peer's certificate is verified (against `options.ca`
 * or the system's roots) unless `rejectUnauthorized: false` is passed
 * explicitly; the name checked is `servername`, else the host.
 */
export function tlsConnect(host: string, port: number, options: tls.ConnectionOptions = {}): ConnectTarget {
  const address = `tls://${formatHost(host)}:${port}`;
  return {
    address,
    dial(signal): Promise<Duplex> {
      return new Promise<Duplex>((resolve, reject) => {
        if (signal.aborted) return reject(new CanceledError(`connect to ${address} was canceled`));
        const socket = tls.connect({
          rejectUnauthorized: true,
          ...options,
          host,
          port,
          ...(options.servername === undefined && !isIp(host) ? { servername: host } : {}),
        });
        const onAbort = (): void => {
          socket.destroy();
          reject(new CanceledError(`connect to ${address} was canceled`));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        socket.once("secureConnect", () => {
          signal.removeEventListener("abort", onAbort);
          socket.off("error", onError);
          socket.on("error", () => {});
          resolve(socket);
        });
        const onError = (error: NodeJS.ErrnoException): void => {
          signal.removeEventListener("abort", onAbort);
          socket.destroy();
          reject(TransportError.from(error, address));
        };
        socket.once("error", onError);
      });
    },
  };
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
