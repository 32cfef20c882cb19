/**
 * The seam between the smart Socket and the byte streams it runs on. The
 * Socket only ever sees node `Duplex` streams that are ready for aiomsg bytes;
 * where they come from is a {@link BindTarget} (a listener) or a
 * {@link ConnectTarget} (a dialer). tcp is built in; TLS and WebSocket add
 * their own targets (passed to bind()/connect() as objects) and, for
 * endpoint strings, a scheme through {@link registerScheme}, without
 * touching the Socket.
 *
 * A target must hand over streams only once they carry aiomsg bytes (after
 * the TLS handshake, after the WebSocket upgrade), and must attach an 'error'
 * listener of its own to every stream before handing it over, so an early
 * error cannot crash the process.
 */
import type { Duplex } from "node:stream";
import { InvalidArgumentError, NotSupportedError } from "../errors.js";
import { formatHost, parseEndpoint } from "../transport/endpoint.js";
import { dial, listen } from "../transport/stream.js";

/** A bound listener, as returned by {@link BindTarget.listen}. */
export interface SmartListener {
  /** The resolved endpoint, e.g. "tcp://127.0.0.1:41627" for a bind to port 0. */
  readonly endpoint: string;
  /** Stops accepting. Streams already handed over are not touched. Idempotent. */
  close(): Promise<void>;
}

/** Something to bind: starts listening and hands every accepted stream to `accept`. */
export interface BindTarget {
  /** The address as the user gave it, for errors. */
  readonly address: string;
  /** Resolves once listening; rejects with a TransportError (EADDRINUSE, EACCES...). */
  listen(accept: (stream: Duplex) => void): Promise<SmartListener>;
}

/** Something to connect to: every dial() is one attempt. */
export interface ConnectTarget {
  /** The address, for errors and diagnostics. */
  readonly address: string;
  /** One connection attempt; rejects with a TransportError, or a CanceledError once `signal` aborts. */
  dial(signal: AbortSignal): Promise<Duplex>;
}

/** How endpoint strings of one scheme ("tcp" in "tcp://host:port") become targets. */
export interface Scheme {
  bind(endpoint: string): BindTarget;
  connect(endpoint: string): ConnectTarget;
}

const schemes = new Map<string, Scheme>();

/** Makes `name://...` endpoint strings usable in bind() and connect(). Replaces an earlier registration of the name. */
export function registerScheme(name: string, scheme: Scheme): void {
  if (!/^[a-z][a-z0-9+.-]*$/.test(name)) throw new InvalidArgumentError(`Invalid scheme name "${name}"`);
  schemes.set(name, scheme);
}

/** Binds tcp host:port ("*" = every interface, port 0 = an ephemeral port). */
export function tcpBind(host: string, port: number): BindTarget {
  return tcpBindEndpoint(`tcp://${formatHost(host)}:${checkPort(port, true)}`);
}

/** Connects to tcp host:port. */
export function tcpConnect(host: string, port: number): ConnectTarget {
  return tcpConnectEndpoint(`tcp://${formatHost(host)}:${checkPort(port, false)}`);
}

function tcpBindEndpoint(address: string): BindTarget {
  const endpoint = parseEndpoint(address, "bind");
  return {
    address,
    async listen(accept) {
      const listener = await listen(endpoint, accept);
      return { endpoint: listener.endpoint, close: () => listener.close() };
    },
  };
}

function tcpConnectEndpoint(address: string): ConnectTarget {
  const endpoint = parseEndpoint(address, "connect");
  return { address, dial: (signal) => dial(endpoint, { signal }) };
}

registerScheme("tcp", { bind: tcpBindEndpoint, connect: tcpConnectEndpoint });

function checkPort(port: unknown, bind: boolean): number {
  const min = bind ? 0 : 1;
  if (typeof port !== "number" || !Number.isInteger(port) || port < min || port > 65535) {
    throw new InvalidArgumentError(`Port must be an integer from ${min} to 65535, got ${String(port)}`);
  }
  return port;
}

function schemeOf(endpoint: string): Scheme {
  const match = /^([a-z][a-z0-9+.-]*):\/\//.exec(endpoint);
  if (match === null) throw new InvalidArgumentError(`Endpoint "${endpoint}" has no scheme (expected e.g. tcp://host:port)`, { address: endpoint });
  const scheme = schemes.get(match[1]!);
  if (scheme === undefined) throw new NotSupportedError(`No transport for ${match[1]}:// endpoints`, { address: endpoint });
  return scheme;
}

function isBindTarget(value: unknown): value is BindTarget {
  return typeof value === "object" && value !== null && typeof (value as BindTarget).listen === "function";
}

function isConnectTarget(value: unknown): value is ConnectTarget {
  return typeof value === "object" && value !== null && typeof (value as ConnectTarget).dial === "function";
}

/** bind()'s arguments: a target, an endpoint string, or host and port (the defaults are aiomsg's: 127.0.0.1, 25000). */
export function toBindTarget(first: unknown, port: unknown): BindTarget {
  if (isBindTarget(first)) return first;
  if (first === undefined) return tcpBind("127.0.0.1", port === undefined ? 25000 : (port as number));
  if (typeof first !== "string") throw new InvalidArgumentError("bind() takes an endpoint string, a host and a port, or a BindTarget");
  if (port !== undefined) return tcpBind(first, port as number);
  return first.includes("://") ? schemeOf(first).bind(first) : tcpBind(first, 25000);
}

/** connect()'s arguments: a target, an endpoint string, or host and port. */
export function toConnectTarget(first: unknown, port: unknown): ConnectTarget {
  if (isConnectTarget(first)) return first;
  if (first === undefined) return tcpConnect("127.0.0.1", port === undefined ? 25000 : (port as number));
  if (typeof first !== "string") throw new InvalidArgumentError("connect() takes an endpoint string, a host and a port, or a ConnectTarget");
  if (port !== undefined) return tcpConnect(first, port as number);
  return first.includes("://") ? schemeOf(first).connect(first) : tcpConnect(first, 25000);
}
