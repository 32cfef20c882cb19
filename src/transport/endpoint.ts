/**
 * Parsing and formatting of ZeroMQ endpoint strings, following libzmq's
 * conventions (digest §8):
 *
 * - `tcp://host:port`: `host` is a DNS name (or interface name), an IPv4
 *   address, or an IPv6 literal in brackets (`[::1]`). libzmq also accepts an
 *   unbracketed IPv6 literal (the last `:` separates the port), and so do we.
 *   On bind, `*` as host means all interfaces and `*` or `0` as port means an
 *   ephemeral port (port 0). On connect, an optional source address may lead:
 *   `tcp://src_host:src_port;host:port`.
 * - `ipc:///abs/path`, `ipc://rel/path`, `ipc://@name` (Linux abstract
 *   namespace), and on bind `ipc://*` (a unique temporary path).
 * - `inproc://name`, 1 to 256 characters.
 *
 * Malformed endpoints throw {@link InvalidArgumentError} (`EINVAL`); a
 * well-formed endpoint of a transport we do not implement (`pgm://`, `ws://`,
 * or any unknown scheme) throws {@link NotSupportedError} (`ENOTSUP`). As in
 * libzmq, the scheme is case-sensitive: `TCP://` is an unknown scheme.
 */

import { randomBytes } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { InvalidArgumentError, NotSupportedError } from "../errors.js";

export type Endpoint =
  | {
      transport: "tcp";
      /** A DNS or interface name, an IPv4 address, an IPv6 address (without brackets), or "*" (bind only). */
      host: string;
      /** 0 = ephemeral (bind only). */
      port: number;
      /** Source address to bind before connecting (connect only); host may be "*", port 0 = any. */
      source?: { host: string; port: number };
    }
  | {
      transport: "ipc";
      /** The file system path, or the abstract name without its leading '@'. */
      path: string;
      /** Linux abstract namespace (`ipc://@name`). */
      abstract: boolean;
    }
  | { transport: "inproc"; name: string };

/** Linux's `sun_path` holds 108 bytes, one of which is the terminating NUL (or the leading NUL of an abstract name). */
export const MAX_IPC_PATH_BYTES = 107;

/** libzmq's limit on inproc names. */
export const MAX_INPROC_NAME_LENGTH = 256;

/** Schemes libzmq knows that we do not implement (yet). */
const KNOWN_UNSUPPORTED = new Set(["pgm", "epgm", "norm", "ws", "wss", "tipc", "vmci", "udp"]);

const MAX_HOSTNAME_LENGTH = 253;
const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

let tempCounter = 0;

function invalid(message: string, address: string): InvalidArgumentError {
  return new InvalidArgumentError(message, { address });
}

/**
 * Parses a ZeroMQ endpoint string for binding or connecting.
 *
 * `ipc://*` (bind) is turned here into a fresh unique path under
 * `os.tmpdir()`, so two parses of it give two different paths.
 *
 * @throws InvalidArgumentError (`EINVAL`) if the endpoint is malformed.
 * @throws NotSupportedError (`ENOTSUP`) if its scheme is not tcp, ipc or inproc.
 */
export function parseEndpoint(address: string, role: "bind" | "connect"): Endpoint {
  if (typeof address !== "string") {
    throw new InvalidArgumentError(`Endpoint must be a string, got ${typeof address}`);
  }
  if (role !== "bind" && role !== "connect") {
    throw new InvalidArgumentError(`Endpoint role must be "bind" or "connect", got ${String(role)}`, { address });
  }
  const sep = address.indexOf("://");
  if (sep < 0) throw invalid(`Invalid endpoint "${address}": expected transport://address`, address);
  const scheme = address.slice(0, sep);
  const rest = address.slice(sep + 3);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme)) {
    throw invalid(`Invalid endpoint "${address}": malformed transport name`, address);
  }
  switch (scheme) {
    case "tcp":
      return parseTcp(rest, role, address);
    case "ipc":
      return parseIpc(rest, role, address);
    case "inproc":
      return parseInproc(rest, address);
    default: {
      const what = KNOWN_UNSUPPORTED.has(scheme) ? "is not supported" : "is unknown";
      throw new NotSupportedError(`Transport "${scheme}" ${what} (endpoint "${address}")`, { address });
    }
  }
}

/** Formats an endpoint back into its string form; `parseEndpoint(formatEndpoint(ep), role)` gives `ep` back. */
export function formatEndpoint(ep: Endpoint): string {
  switch (ep.transport) {
    case "tcp": {
      const src = ep.source === undefined ? "" : `${formatHost(ep.source.host)}:${ep.source.port};`;
      return `tcp://${src}${formatHost(ep.host)}:${ep.port}`;
    }
    case "ipc":
      return ep.abstract ? `ipc://@${ep.path}` : `ipc://${ep.path}`;
    case "inproc":
      return `inproc://${ep.name}`;
  }
}

/** A host as it appears in a tcp endpoint: IPv6 literals in brackets. */
export function formatHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

// ---------------------------------------------------------------- tcp

function parseTcp(rest: string, role: "bind" | "connect", address: string): Endpoint {
  const semi = rest.lastIndexOf(";");
  if (semi >= 0) {
    if (role === "bind") throw invalid(`Invalid endpoint "${address}": a source address is only allowed on connect`, address);
    const source = parseHostPort(rest.slice(0, semi), address, { wildcardHost: true, ephemeralPort: true });
    const dest = parseHostPort(rest.slice(semi + 1), address, { wildcardHost: false, ephemeralPort: false });
    return { transport: "tcp", host: dest.host, port: dest.port, source };
  }
  const bind = role === "bind";
  const { host, port } = parseHostPort(rest, address, { wildcardHost: bind, ephemeralPort: bind });
  return { transport: "tcp", host, port };
}

function parseHostPort(
  text: string,
  address: string,
  allow: { wildcardHost: boolean; ephemeralPort: boolean },
): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw invalid(`Invalid endpoint "${address}": unterminated "[" in IPv6 address`, address);
    host = text.slice(1, close);
    if (!isIPv6(host)) throw invalid(`Invalid endpoint "${address}": "${host}" is not an IPv6 address`, address);
    if (text[close + 1] !== ":") throw invalid(`Invalid endpoint "${address}": expected ":port" after "]"`, address);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw invalid(`Invalid endpoint "${address}": missing port (expected host:port)`, address);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === "") throw invalid(`Invalid endpoint "${address}": missing host`, address);
    if (host === "*") {
      if (!allow.wildcardHost) throw invalid(`Invalid endpoint "${address}": "*" is not a host to connect to`, address);
    } else if (!isIPv4(host) && !isIPv6(host) && !isHostName(host)) {
      throw invalid(`Invalid endpoint "${address}": "${host}" is not a valid host`, address);
    }
  }
  return { host, port: parsePort(portText, address, allow.ephemeralPort) };
}

function isHostName(host: string): boolean {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name === "" || name.length > MAX_HOSTNAME_LENGTH) return false;
  // Something that looks numeric but is not a valid IPv4 address (e.g. 256.1.1.1) is a typo, not a name.
  if (/^[0-9.]+$/.test(name)) return false;
  return name.split(".").every((label) => HOST_LABEL.test(label));
}

function parsePort(text: string, address: string, ephemeralAllowed: boolean): number {
  let port: number;
  if (text === "*") {
    port = 0;
  } else if (/^[0-9]{1,5}$/.test(text)) {
    port = Number(text);
    if (port > 65535) throw invalid(`Invalid endpoint "${address}": port ${text} is out of range 0..65535`, address);
  } else {
    throw invalid(`Invalid endpoint "${address}": "${text}" is not a valid port`, address);
  }
  if (port === 0 && !ephemeralAllowed) {
    throw invalid(`Invalid endpoint "${address}": cannot connect to port ${text}`, address);
  }
  return port;
}

// ---------------------------------------------------------------- ipc

function parseIpc(rest: string, role: "bind" | "connect", address: string): Endpoint {
  if (rest === "") throw invalid(`Invalid endpoint "${address}": empty ipc path`, address);
  if (rest.includes("\0")) throw invalid(`Invalid endpoint "${address}": ipc path contains a NUL character`, address);
  if (rest === "*") {
    if (role !== "bind") throw invalid(`Invalid endpoint "${address}": "ipc://*" is only allowed on bind`, address);
    return { transport: "ipc", path: temporaryIpcPath(address), abstract: false };
  }
  if (rest.startsWith("@")) {
    const name = rest.slice(1);
    if (name === "") throw invalid(`Invalid endpoint "${address}": empty abstract ipc name`, address);
    checkIpcLength(name, address);
    return { transport: "ipc", path: name, abstract: true };
  }
  checkIpcLength(rest, address);
  return { transport: "ipc", path: rest, abstract: false };
}

function checkIpcLength(path: string, address: string): void {
  const bytes = Buffer.byteLength(path, "utf8");
  if (bytes > MAX_IPC_PATH_BYTES) {
    throw invalid(
      `Invalid endpoint "${address}": ipc path is ${bytes} bytes, the limit is ${MAX_IPC_PATH_BYTES}`,
      address,
    );
  }
}

function temporaryIpcPath(address: string): string {
  const name = `switchboard-${process.pid}-${++tempCounter}-${randomBytes(6).toString("hex")}.sock`;
  for (const dir of [tmpdir(), "/tmp"]) {
    const path = join(dir, name);
    if (Buffer.byteLength(path, "utf8") <= MAX_IPC_PATH_BYTES) return path;
  }
  throw invalid(`Cannot bind "${address}": the temporary directory path is too long for an ipc socket`, address);
}

// ---------------------------------------------------------------- inproc

function parseInproc(name: string, address: string): Endpoint {
  if (name.length === 0) throw invalid(`Invalid endpoint "${address}": empty inproc name`, address);
  if (name.length > MAX_INPROC_NAME_LENGTH) {
    throw invalid(
      `Invalid endpoint "${address}": inproc name is ${name.length} characters, the limit is ${MAX_INPROC_NAME_LENGTH}`,
      address,
    );
  }
  return { transport: "inproc", name };
}
