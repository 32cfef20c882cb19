/**
 * Every error Switchboard raises is an instance of {@link SwitchboardError}
 * with a stable string `code`. Match on `code` (or `instanceof` a subclass);
 * never on `message`, which may be reworded.
 *
 * Codes that exist in zeromq.js keep its spelling (EAGAIN, EFSM, EHOSTUNREACH,
 * ERR_ZMTP_*), so code written against zeromq.js keeps working. The full list,
 * with when each happens and what to do, is in docs/errors.md.
 */

/** Codes of errors returned by socket operations. */
export type OperationErrorCode =
  | "EAGAIN"
  | "EFSM"
  | "EHOSTUNREACH"
  | "EBADF"
  | "EINVAL"
  | "ENOTSUP"
  | "ENOENT"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "EACCES"
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "ECANCELED";

/** Codes of protocol errors, raised on one connection and reported as events. */
export type ProtocolErrorCode =
  | "ERR_ZMTP_UNSPECIFIED"
  | "ERR_ZMTP_UNEXPECTED_COMMAND"
  | "ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED"
  | "ERR_ZMTP_MALFORMED_COMMAND_ERROR"
  | "ERR_ZMTP_MALFORMED_COMMAND_READY"
  | "ERR_ZMTP_INVALID_METADATA"
  | "ERR_ZMTP_MECHANISM_MISMATCH"
  | "ERR_ZMTP_BAD_SIGNATURE"
  | "ERR_ZMTP_UNSUPPORTED_VERSION"
  | "ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE"
  | "ERR_ZMTP_MESSAGE_TOO_LARGE"
  | "ERR_ZMTP_INVALID_FRAME"
  | "ERR_ZMTP_PEER_ERROR"
  | "ERR_ZMTP_HANDSHAKE_TIMEOUT"
  | "ERR_ZMTP_HEARTBEAT_TIMEOUT"
  | "ERR_ZMTP_DUPLICATE_ROUTING_ID"
  | "ERR_ZMTP_INVALID_ENVELOPE"
  // aiomsg protocol v1 (the smart Socket)
  | "ERR_AIOMSG_BAD_HELLO"
  | "ERR_AIOMSG_VERSION"
  | "ERR_AIOMSG_FRAME_TOO_LARGE"
  | "ERR_AIOMSG_MALFORMED"
  | "ERR_AIOMSG_DUPLICATE_IDENTITY"
  | "ERR_AIOMSG_HEARTBEAT_TIMEOUT";

/** Codes of the messaging layer (routers, connections, request/reply). */
export type MessagingErrorCode =
  | "ENOTDELIVERED"
  | "ESHUTDOWN"
  | "EDOESNOTUNDERSTAND"
  | "EREMOTE";

export type ErrorCode = OperationErrorCode | ProtocolErrorCode | MessagingErrorCode;

export interface SwitchboardErrorOptions {
  cause?: unknown;
  /** The endpoint the error relates to, if any. */
  address?: string;
}

/** The base class of every error raised by Switchboard. */
export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  /** The endpoint the error relates to, if any (as zeromq.js's `address`). */
  readonly address: string | undefined;

  constructor(code: ErrorCode, message: string, options: SwitchboardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.address = options.address;
  }
}

/**
 * The operation could not complete now: a send or receive timed out
 * (`sendTimeout`/`receiveTimeout`), or a high-water mark was reached with a
 * timeout of 0. Code `EAGAIN`.
 */
export class AgainError extends SwitchboardError {
  constructor(message = "Socket is busy: operation timed out or would block", options?: SwitchboardErrorOptions) {
    super("EAGAIN", message, options);
  }
}

/** The operation is not allowed in the socket's current state (REQ/REP lockstep). Code `EFSM`. */
export class StateError extends SwitchboardError {
  constructor(message: string, options?: SwitchboardErrorOptions) {
    super("EFSM", message, options);
  }
}

/** A Router with `mandatory` set was asked to send to an unknown routing id. Code `EHOSTUNREACH`. */
export class HostUnreachableError extends SwitchboardError {
  constructor(message = "Host unreachable", options?: SwitchboardErrorOptions) {
    super("EHOSTUNREACH", message, options);
  }
}

/** The socket is closed. Code `EBADF`. */
export class ClosedError extends SwitchboardError {
  constructor(message = "Socket is closed", options?: SwitchboardErrorOptions) {
    super("EBADF", message, options);
  }
}

/** An argument or option value is invalid (malformed endpoint, bad option value). Code `EINVAL`. */
export class InvalidArgumentError extends SwitchboardError {
  constructor(message: string, options?: SwitchboardErrorOptions) {
    super("EINVAL", message, options);
  }
}

/** The socket type does not support this operation or transport. Code `ENOTSUP`. */
export class NotSupportedError extends SwitchboardError {
  constructor(message: string, options?: SwitchboardErrorOptions) {
    super("ENOTSUP", message, options);
  }
}

/** `unbind`/`disconnect` named an endpoint the socket is not bound or connected to. Code `ENOENT`. */
export class NotFoundError extends SwitchboardError {
  constructor(message: string, options?: SwitchboardErrorOptions) {
    super("ENOENT", message, options);
  }
}

/** An operation was cancelled because the socket closed while it waited. Code `ECANCELED`. */
export class CanceledError extends SwitchboardError {
  constructor(message = "Operation was cancelled", options?: SwitchboardErrorOptions) {
    super("ECANCELED", message, options);
  }
}

/**
 * A transport-level failure (bind, connect, accept), carrying the operating
 * system's code where it is one we know (EADDRINUSE, EACCES, ECONNREFUSED...).
 */
export class TransportError extends SwitchboardError {
  /** The `errno` number, when the operating system reported one. */
  readonly errno: number | undefined;
  constructor(code: OperationErrorCode, message: string, options?: SwitchboardErrorOptions & { errno?: number }) {
    super(code, message, options);
    this.errno = options?.errno;
  }

  /**
   * Wraps a Node.js system error, keeping its code when it is a known one
   * (ENETUNREACH is reported as EHOSTUNREACH); any other code becomes
   * ECONNRESET.
   */
  static from(error: unknown, address?: string): TransportError {
    if (error instanceof TransportError) return error;
    const sys = error as NodeJS.ErrnoException | undefined;
    const known: readonly OperationErrorCode[] = [
      "EADDRINUSE", "EADDRNOTAVAIL", "EACCES", "ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ETIMEDOUT", "ENOENT", "EINVAL",
    ];
    const code = known.find((c) => c === sys?.code) ?? (sys?.code === "ENETUNREACH" ? "EHOSTUNREACH" : "ECONNRESET");
    const opts: SwitchboardErrorOptions & { errno?: number } = { cause: error };
    if (address !== undefined) opts.address = address;
    if (typeof sys?.errno === "number") opts.errno = sys.errno;
    return new TransportError(code, sys?.message ?? String(error), opts);
  }
}

/**
 * A peer broke the ZMTP protocol, or a handshake failed. Raised on one
 * connection only: that connection is closed and the error is reported by
 * the socket's `events` (e.g. `handshake:error:protocol`) and on the
 * `switchboard:connection:protocol-error` diagnostics channel. Other
 * connections of the same socket are unaffected.
 */
export class ProtocolError extends SwitchboardError {
  declare readonly code: ProtocolErrorCode;
  /**
   * Whether the connecting side should try again. libzmq does not reconnect
   * after a protocol error (digest §2.9), and neither do we by default.
   */
  readonly fatal: boolean;
  constructor(code: ProtocolErrorCode, message: string, options?: SwitchboardErrorOptions & { fatal?: boolean }) {
    super(code, message, options);
    this.fatal = options?.fatal ?? true;
  }
}

/** A request got no reply within its timeout. Code `ETIMEDOUT`. */
export class RequestTimeoutError extends SwitchboardError {
  constructor(message: string, options?: SwitchboardErrorOptions) {
    super("ETIMEDOUT", message, options);
  }
}

/**
 * The router knows the message cannot be delivered: the target connection
 * does not exist, has no handler, or went away. Reported at once, not after
 * a timeout. Code `ENOTDELIVERED`.
 */
export class NotDeliveredError extends SwitchboardError {
  constructor(message: string, options?: SwitchboardErrorOptions) {
    super("ENOTDELIVERED", message, options);
  }
}

/** The router (or the connection) has shut down. Code `ESHUTDOWN`. */
export class ShutdownError extends SwitchboardError {
  constructor(message = "Router has shut down", options?: SwitchboardErrorOptions) {
    super("ESHUTDOWN", message, options);
  }
}

/** The receiver does not handle this subject. Code `EDOESNOTUNDERSTAND`. */
export class DoesNotUnderstandError extends SwitchboardError {
  constructor(message: string, options?: SwitchboardErrorOptions) {
    super("EDOESNOTUNDERSTAND", message, options);
  }
}

/** The receiver's handler failed; `remote` carries its error's name and message. Code `EREMOTE`. */
export class RemoteError extends SwitchboardError {
  readonly remote: { name: string; message: string };
  constructor(remote: { name: string; message: string }, options?: SwitchboardErrorOptions) {
    super("EREMOTE", `remote handler failed: ${remote.name}: ${remote.message}`, options);
    this.remote = remote;
  }
}

/** True when `error` is a Switchboard error with the given code. */
export function isErrorCode(error: unknown, code: ErrorCode): boolean {
  return error instanceof SwitchboardError && error.code === code;
}
