/**
 * The smart Socket's options: defaults, and validation that turns a bad or
 * unknown option into an InvalidArgumentError (EINVAL) at construction, so
 * a typo never silently falls back to a default.
 */
import { randomUUID } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";
import { realClock, type Clock } from "../connection/clock.js";
import { DEFAULT_MAX_FRAME_SIZE, IDENTITY_LENGTH, MAX_FRAME_SIZE_LIMIT } from "./wire.js";

export type SendMode = "publish" | "roundrobin";
export type Delivery = "at-most-once" | "at-least-once";

export interface SocketOptions {
  /** Where a send without an identity goes: every connected peer, or one peer in turn. Default "roundrobin". */
  sendMode?: SendMode;
  /** The guarantee of this socket's sends. Default "at-most-once". "at-least-once" requires "roundrobin". */
  delivery?: Delivery;
  /** This socket's 16-byte identity (a Uint8Array, or 32 hex digits). Default: a random UUIDv4's bytes. */
  identity?: Uint8Array | string;
  /**
   * Milliseconds to wait before reconnect attempt `attempt` (1 = the first
   * retry after a failed dial or a lost connection; it restarts at 1 after
   * each connection that completed its HELLO exchange). Default: 100 ms
   * doubling to at most 5 s, each delay drawn at random from its upper half.
   */
  reconnectDelay?: (attempt: number) => number;
  /** Send a HEARTBEAT after this many ms without sending anything. Default 5000. */
  heartbeatInterval?: number;
  /** Tear a connection down after this many ms without receiving anything. Default 15000. */
  heartbeatTimeout?: number;
  /** Messages held while no peer can take them (no peer connected, or all busy). Default 1000. */
  sendBufferSize?: number;
  /** Messages queued on one connection and not yet handed to its stream. Default 1000. */
  peerQueueSize?: number;
  /** Received messages waiting for recv(); reading from peers pauses when it is full. Default 1000. */
  receiveBufferSize?: number;
  /** At-least-once messages sent and not yet acknowledged. Default 1000. */
  maxPending?: number;
  /** Largest frame accepted from a peer, in bytes; a larger one closes that connection. Default 64 MiB. */
  maxFrameSize?: number;
  /** How long send() may wait for room: -1 = as long as it takes, 0 = not at all, else ms; then EAGAIN. Default -1. */
  sendTimeout?: number;
  /** At-least-once: ms to wait for an ACK before the first resend; each further wait doubles. Default 5000. */
  ackTimeout?: number;
  /** At-least-once: cap on the doubling wait. Default 30000. */
  maxAckTimeout?: number;
  /** At-least-once: resends after the first transmission before send() rejects with ENOTDELIVERED. Default 5. */
  maxRetries?: number;
  /** Receiver: how many delivered at-least-once message ids are remembered to suppress duplicates. Default 10000. */
  dedupWindowSize?: number;
  /** Receiver: how long (ms) a delivered message id is remembered. Default 300000 (longer than a sender's whole resend span with the defaults). */
  dedupWindowTime?: number;
  /** Time source for heartbeats, reconnect delays, ACK timeouts and close deadlines (tests inject a fake). */
  clock?: Clock;
}

export interface ResolvedOptions {
  sendMode: SendMode;
  delivery: Delivery;
  identity: Buffer;
  reconnectDelay: (attempt: number) => number;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  sendBufferSize: number;
  peerQueueSize: number;
  receiveBufferSize: number;
  maxPending: number;
  maxFrameSize: number;
  sendTimeout: number;
  ackTimeout: number;
  maxAckTimeout: number;
  maxRetries: number;
  dedupWindowSize: number;
  dedupWindowTime: number;
  clock: Clock;
}

/** The default reconnect delay: 100 ms doubling per attempt up to 5 s, with jitter over the upper half. */
export function defaultReconnectDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(100 * 2 ** Math.max(0, attempt - 1), 5000);
  return Math.round(base / 2 + (random() * base) / 2);
}

const KNOWN = new Set<string>([
  "sendMode", "delivery", "identity", "reconnectDelay", "heartbeatInterval", "heartbeatTimeout",
  "sendBufferSize", "peerQueueSize", "receiveBufferSize", "maxPending", "maxFrameSize", "sendTimeout",
  "ackTimeout", "maxAckTimeout", "maxRetries", "dedupWindowSize", "dedupWindowTime", "clock",
]);

function bad(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message);
}

function integer(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`Option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A 16-byte identity from bytes or 32 hex digits. */
export function toIdentity(value: unknown, what = "identity"): Buffer {
  if (typeof value === "string") {
    if (!/^[0-9a-fA-F]{32}$/.test(value)) throw bad(`${what} must be 32 hex digits, got "${value}"`);
    return Buffer.from(value, "hex");
  }
  if (value instanceof Uint8Array) {
    if (value.length !== IDENTITY_LENGTH) throw bad(`${what} must be ${IDENTITY_LENGTH} bytes, got ${value.length}`);
    return Buffer.from(value);
  }
  throw bad(`${what} must be a Buffer/Uint8Array of ${IDENTITY_LENGTH} bytes or 32 hex digits`);
}

/** A fresh random identity: the raw bytes of a UUIDv4. */
export function randomIdentity(): Buffer {
  return Buffer.from(randomUUID().replaceAll("-", ""), "hex");
}

export function resolveOptions(options: SocketOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== "object") throw bad("Socket options must be an object");
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw bad(`Unknown option ${key}`);
  }
  const o = options as Record<string, unknown>;
  const sendMode = o.sendMode ?? "roundrobin";
  if (sendMode !== "publish" && sendMode !== "roundrobin") {
    throw bad(`Option sendMode must be "publish" or "roundrobin", got ${String(sendMode)}`);
  }
  const delivery = o.delivery ?? "at-most-once";
  if (delivery !== "at-most-once" && delivery !== "at-least-once") {
    throw bad(`Option delivery must be "at-most-once" or "at-least-once", got ${String(delivery)}`);
  }
  if (sendMode === "publish" && delivery === "at-least-once") {
    throw bad("at-least-once delivery is not available with sendMode \"publish\" (use \"roundrobin\" or identity sends)");
  }
  const reconnectDelay = o.reconnectDelay ?? defaultReconnectDelay;
  if (typeof reconnectDelay !== "function") throw bad("Option reconnectDelay must be a function (attempt) => ms");
  const clock = (o.clock ?? realClock) as Clock;
  if (typeof clock !== "object" || typeof clock.now !== "function" || typeof clock.setTimeout !== "function" || typeof clock.clearTimeout !== "function") {
    throw bad("Option clock must implement now(), setTimeout() and clearTimeout()");
  }
  const heartbeatInterval = integer("heartbeatInterval", o.heartbeatInterval, 5000, 1);
  const heartbeatTimeout = integer("heartbeatTimeout", o.heartbeatTimeout, 15000, 1);
  const ackTimeout = integer("ackTimeout", o.ackTimeout, 5000, 1);
  const maxAckTimeout = integer("maxAckTimeout", o.maxAckTimeout, Math.max(30000, ackTimeout), 1);
  if (maxAckTimeout < ackTimeout) throw bad(`Option maxAckTimeout (${maxAckTimeout}) must not be below ackTimeout (${ackTimeout})`);
  return {
    sendMode,
    delivery,
    identity: o.identity === undefined ? randomIdentity() : toIdentity(o.identity, "Option identity"),
    reconnectDelay: reconnectDelay as (attempt: number) => number,
    heartbeatInterval,
    heartbeatTimeout,
    sendBufferSize: integer("sendBufferSize", o.sendBufferSize, 1000, 1),
    peerQueueSize: integer("peerQueueSize", o.peerQueueSize, 1000, 1),
    receiveBufferSize: integer("receiveBufferSize", o.receiveBufferSize, 1000, 1),
    maxPending: integer("maxPending", o.maxPending, 1000, 1),
    maxFrameSize: integer("maxFrameSize", o.maxFrameSize, DEFAULT_MAX_FRAME_SIZE, 1 + IDENTITY_LENGTH + 1, MAX_FRAME_SIZE_LIMIT),
    sendTimeout: integer("sendTimeout", o.sendTimeout, -1, -1),
    ackTimeout,
    maxAckTimeout,
    maxRetries: integer("maxRetries", o.maxRetries, 5, 0),
    dedupWindowSize: integer("dedupWindowSize", o.dedupWindowSize, 10000, 0),
    dedupWindowTime: integer("dedupWindowTime", o.dedupWindowTime, 300000, 0),
    clock,
  };
}
