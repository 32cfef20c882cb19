/**
 * tcp and ipc byte streams over node:net: listeners (bind) and dialers
 * (connect). The ZMTP layer above runs on the `net.Socket`s these hand out.
 *
 * Errors: both `listen` and `dial` reject with a {@link TransportError} that
 * keeps the operating system's code (EADDRINUSE, ECONNREFUSED, EACCES,
 * ENOENT, EHOSTUNREACH...; {@link TransportError.from} also reports ENETUNREACH
 * as EHOSTUNREACH). A few OS codes that it does not know are mapped first: a
 * host name that does not resolve is EHOSTUNREACH on dial and EADDRNOTAVAIL on
 * listen; EHOSTDOWN/ENETDOWN are EHOSTUNREACH; EPERM is EACCES; EAFNOSUPPORT
 * is EADDRNOTAVAIL; ENAMETOOLONG is EINVAL.
 *
 * Every stream handed out (accepted or dialled) has a no-op 'error' listener
 * attached, so an error that happens before its owner attaches its own
 * handler cannot crash the process; the owner still sees the error through
 * its own 'error' listener and 'close' (with `hadError`). Nothing is printed.
 */

import { lstat, unlink } from "node:fs/promises";
import { connect as netConnect, createServer, isIP } from "node:net";
import type { Server, Socket as NetSocket, NetConnectOpts, ListenOptions as NetListenOptions } from "node:net";
import { networkInterfaces } from "node:os";

import {
  CanceledError,
  InvalidArgumentError,
  NotSupportedError,
  TransportError,
  type OperationErrorCode,
} from "../errors.js";
import { formatEndpoint, formatHost, type Endpoint } from "./endpoint.js";

export interface Listener {
  /** The resolved endpoint, e.g. "tcp://127.0.0.1:41627" (what zeromq.js calls lastEndpoint); for tcp://*:0 "tcp://0.0.0.0:PORT" (or "tcp://[::]:PORT" when ipv6); for ipc the real path. */
  readonly endpoint: string;
  /** Stops accepting. Does not touch already-accepted streams. Removes the ipc socket file (not for abstract names). Idempotent. */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Length of the pending-connection queue. Default 100. */
  backlog?: number;
  /** Bind "*" as "::" (dual-stack) instead of "0.0.0.0". Falls back to "0.0.0.0" where the machine has no IPv6. */
  ipv6?: boolean;
}

export interface DialOptions {
  /** Give up with ETIMEDOUT after this many milliseconds. 0 or absent: no timeout of our own (the OS's applies). */
  timeoutMs?: number;
  /** Aborting rejects the dial with a CanceledError (ECANCELED) and destroys the half-open stream. */
  signal?: AbortSignal;
  /** When the source address is an interface name, prefer its IPv6 address. Host names resolve through node's lookup either way. */
  ipv6?: boolean;
}

const DEFAULT_BACKLOG = 100;
/** How long a probe of an existing ipc socket file may take before we assume a live (but busy) listener. */
const STALE_PROBE_TIMEOUT_MS = 1000;

function noop(): void {}

// ---------------------------------------------------------------- errors

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The most telling inner error of an AggregateError (node's happy-eyeballs connect), or the error itself. */
function innermost(error: unknown): unknown {
  if (error instanceof AggregateError && errorCode(error) === undefined && error.errors.length > 0) {
    return error.errors.find((e) => errorCode(e) === "ECONNREFUSED") ?? error.errors.find((e) => errorCode(e) !== undefined) ?? error.errors[0];
  }
  return error;
}

function toTransportError(error: unknown, address: string, op: "listen" | "dial"): TransportError {
  if (error instanceof TransportError) return error;
  const inner = innermost(error);
  const code = errorCode(inner);
  let mapped: OperationErrorCode | undefined;
  switch (code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_FAIL":
    case "EAI_NONAME":
    case "EAI_NODATA":
      mapped = op === "dial" ? "EHOSTUNREACH" : "EADDRNOTAVAIL";
      break;
    // EHOSTUNREACH and ENETUNREACH: TransportError.from knows them.
    case "EHOSTDOWN":
    case "ENETDOWN":
      mapped = "EHOSTUNREACH";
      break;
    case "EPERM":
      mapped = "EACCES";
      break;
    case "EAFNOSUPPORT":
      mapped = "EADDRNOTAVAIL";
      break;
    case "ENAMETOOLONG":
      mapped = "EINVAL";
      break;
  }
  if (mapped === undefined) return TransportError.from(inner, address);
  const errno = (inner as NodeJS.ErrnoException).errno;
  const message = (inner as Error | undefined)?.message ?? String(inner);
  return new TransportError(mapped, message, {
    cause: inner,
    address,
    ...(typeof errno === "number" ? { errno } : {}),
  });
}

// ---------------------------------------------------------------- listen

/**
 * Binds `ep` and calls `onStream` with each accepted stream. Resolves once the
 * listener is bound, with its resolved endpoint.
 *
 * For ipc paths, an existing socket file is probed first: if nothing answers
 * (ECONNREFUSED) it is a leftover and is replaced; if a listener answers, the
 * bind rejects with EADDRINUSE. A file that is not a socket is never removed
 * (the bind rejects with EADDRINUSE). The probe is a real connection, so a
 * live listener sees one stream that closes at once, before any byte.
 *
 * If `onStream` throws, that stream is destroyed and the error is dropped.
 */
export async function listen(
  ep: Endpoint,
  onStream: (stream: NetSocket) => void,
  options: ListenOptions = {},
): Promise<Listener> {
  if (ep.transport === "inproc") {
    throw new NotSupportedError("inproc endpoints are not handled by the stream transport", { address: formatEndpoint(ep) });
  }
  const address = formatEndpoint(ep);
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  if (!Number.isInteger(backlog) || backlog < 0) {
    throw new InvalidArgumentError(`Invalid backlog ${String(backlog)}`, { address });
  }

  if (ep.transport === "ipc") {
    if (!ep.abstract) await clearStaleSocketFile(ep.path, address);
    const path = ep.abstract ? `\0${ep.path}` : ep.path;
    const server = await bindServer({ path, backlog }, onStream, address, false);
    const ino = ep.abstract ? undefined : await inodeOf(ep.path);
    return makeListener(server, address, async () => {
      // libuv unlinks the path itself when the server closes (whatever file is
      // there by then, as libzmq does). Should it not have, remove the file we
      // created, and only that one.
      if (ino !== undefined && (await inodeOf(ep.path)) === ino) await unlink(ep.path).catch(noop);
    });
  }

  let host = ep.host;
  if (host === "*") host = options.ipv6 === true ? "::" : "0.0.0.0";
  let server: Server;
  try {
    server = await bindServer({ host, port: ep.port, backlog, ipv6Only: false }, onStream, address, true);
  } catch (error) {
    // libzmq falls back to IPv4 when ZMQ_IPV6 is set but the machine has no IPv6.
    const code = error instanceof TransportError ? error.code : undefined;
    if (host !== "::" || (code !== "EADDRNOTAVAIL" && code !== "EINVAL")) throw error;
    server = await bindServer({ host: "0.0.0.0", port: ep.port, backlog }, onStream, address, true);
  }
  const bound = server.address();
  let endpoint = address;
  if (bound !== null && typeof bound === "object") endpoint = `tcp://${formatHost(bound.address)}:${bound.port}`;
  return makeListener(server, endpoint, async () => {});
}

function bindServer(
  listenOptions: NetListenOptions,
  onStream: (stream: NetSocket) => void,
  address: string,
  tcp: boolean,
): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = createServer({ noDelay: tcp }, (stream) => {
      stream.on("error", noop);
      if (tcp) stream.setNoDelay(true);
      try {
        onStream(stream);
      } catch {
        stream.destroy();
      }
    });
    const onError = (error: Error): void => {
      server.off("listening", onListening);
      server.close();
      reject(toTransportError(error, address, "listen"));
    };
    const onListening = (): void => {
      server.off("error", onError);
      // Errors after bind (e.g. accept failing with EMFILE) must not crash the process; the server keeps listening.
      server.on("error", noop);
      resolve(server);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    try {
      server.listen(listenOptions);
    } catch (error) {
      // Synchronous argument errors (e.g. ERR_SOCKET_BAD_PORT).
      server.off("error", onError);
      server.off("listening", onListening);
      reject(toTransportError(error, address, "listen"));
    }
  });
}

function makeListener(server: Server, endpoint: string, afterClose: () => Promise<void>): Listener {
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    close(): Promise<void> {
      closing ??= (async () => {
        // server.close() closes the listening handle at once (the port or
        // socket file is released synchronously); its callback would wait
        // for every accepted stream to end, which we must not do.
        server.close();
        await new Promise<void>((resolve) => setImmediate(resolve));
        await afterClose();
      })();
      return closing;
    },
  };
}

async function inodeOf(path: string): Promise<number | undefined> {
  try {
    const st = await lstat(path);
    return st.isSocket() ? st.ino : undefined;
  } catch {
    return undefined;
  }
}

/** Removes a leftover ipc socket file at `path`, or rejects with EADDRINUSE if a listener answers on it. */
async function clearStaleSocketFile(path: string, address: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch {
    return; // Nothing there (or not reachable: the bind will say why).
  }
  if (!isSocket) return; // Not ours to remove; the bind fails with EADDRINUSE.
  const outcome = await probe(path);
  if (outcome === "live") {
    throw new TransportError("EADDRINUSE", `Address already in use: a listener answers on ${path}`, { address });
  }
  if (outcome === "stale") {
    try {
      await unlink(path);
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw toTransportError(error, address, "listen");
    }
  }
  // "gone": it vanished in the meantime; just bind.
}

function probe(path: string): Promise<"live" | "stale" | "gone"> {
  return new Promise((resolve) => {
    const socket = netConnect({ path });
    const finish = (outcome: "live" | "stale" | "gone"): void => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("error", onError);
      socket.on("error", noop);
      socket.destroy();
      resolve(outcome);
    };
    const onConnect = (): void => finish("live");
    const onError = (error: Error): void => {
      const code = errorCode(error);
      // Anything but "refused" or "gone" (e.g. EAGAIN with a full backlog) means something is there.
      finish(code === "ECONNREFUSED" ? "stale" : code === "ENOENT" ? "gone" : "live");
    };
    const timer = setTimeout(() => finish("live"), STALE_PROBE_TIMEOUT_MS);
    socket.once("connect", onConnect);
    socket.once("error", onError);
  });
}

// ---------------------------------------------------------------- dial

/**
 * Connects to `ep`. Resolves with the connected stream (tcp streams have
 * Nagle off); rejects with a TransportError (ETIMEDOUT on `timeoutMs`), or a
 * CanceledError when `signal` aborts. A failed dial leaves nothing open.
 */
export async function dial(ep: Endpoint, options: DialOptions = {}): Promise<NetSocket> {
  if (ep.transport === "inproc") {
    throw new NotSupportedError("inproc endpoints are not handled by the stream transport", { address: formatEndpoint(ep) });
  }
  const address = formatEndpoint(ep);
  const { timeoutMs = 0, signal } = options;
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new InvalidArgumentError(`Invalid dial timeout ${String(timeoutMs)}`, { address });
  }
  if (signal?.aborted) throw canceled(address, signal);

  let connectOptions: NetConnectOpts;
  if (ep.transport === "ipc") {
    connectOptions = { path: ep.abstract ? `\0${ep.path}` : ep.path };
  } else {
    if (ep.port === 0) throw new InvalidArgumentError(`Cannot connect to port 0 (${address})`, { address });
    connectOptions = { host: ep.host, port: ep.port, noDelay: true };
    if (ep.source !== undefined) {
      const localAddress = sourceAddress(ep.source.host, options.ipv6 === true, address);
      if (localAddress !== undefined) connectOptions.localAddress = localAddress;
      if (ep.source.port !== 0) connectOptions.localPort = ep.source.port;
    }
  }
  const tcp = ep.transport === "tcp";

  return new Promise<NetSocket>((resolve, reject) => {
    let socket: NetSocket;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.off("connect", onConnect);
      socket.off("error", onError);
    };
    const fail = (error: Error): void => {
      cleanup();
      socket.on("error", noop);
      socket.destroy();
      reject(error);
    };
    const onConnect = (): void => {
      cleanup();
      socket.on("error", noop);
      if (tcp) socket.setNoDelay(true);
      resolve(socket);
    };
    const onError = (error: Error): void => fail(toTransportError(error, address, "dial"));
    const onAbort = (): void => fail(canceled(address, signal));

    try {
      socket = netConnect(connectOptions);
    } catch (error) {
      // Synchronous argument errors (e.g. a bad localAddress).
      reject(toTransportError(error, address, "dial"));
      return;
    }
    socket.once("connect", onConnect);
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs > 0) {
      timer = setTimeout(
        () => fail(new TransportError("ETIMEDOUT", `Connect to ${address} timed out after ${timeoutMs} ms`, { address })),
        timeoutMs,
      );
    }
  });
}

function canceled(address: string, signal: AbortSignal | undefined): CanceledError {
  const reason: unknown = signal?.reason;
  return new CanceledError(`Connect to ${address} was cancelled`, {
    address,
    ...(reason === undefined ? {} : { cause: reason }),
  });
}

/** The local address for a tcp source: an IP literal as is, "*" as none, an interface name as its address. */
function sourceAddress(host: string, preferIPv6: boolean, address: string): string | undefined {
  if (host === "*") return undefined;
  if (isIP(host) !== 0) return host;
  const addresses = networkInterfaces()[host];
  if (addresses !== undefined && addresses.length > 0) {
    const wanted = preferIPv6 ? "IPv6" : "IPv4";
    const pick = addresses.find((a) => a.family === wanted) ?? addresses[0];
    if (pick !== undefined) return pick.address;
  }
  throw new TransportError("EADDRNOTAVAIL", `Source address "${host}" is not an IP address or a local interface name`, {
    address,
  });
}
