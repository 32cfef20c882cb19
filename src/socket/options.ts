/**
 * Socket options: one table gives each option's default and validation, and
 * the compiler keeps the table in step with the {@link CoreOptions}
 * interface (each is typed from the other). Names are zeromq.js v6's; the
 * doc comment of each starts with the libzmq option it mirrors.
 */
import { InvalidArgumentError } from "../errors.js";
import { DEFAULT_MAX_MESSAGE_SIZE } from "../wire/constants.js";

export interface CoreOptions {
  /** ZMQ_LINGER: ms to keep flushing unsent messages after close(); -1 = as long as the peer is connected, 0 = drop at once. */
  linger: number;
  /** ZMQ_RECONNECT_IVL: base reconnect delay in ms (plus up to the same again in jitter); <= 0 disables reconnection. */
  reconnectInterval: number;
  /** ZMQ_RECONNECT_IVL_MAX: when above reconnectInterval, the delay doubles per failure up to this. */
  reconnectMaxInterval: number;
  /** ZMQ_MAXMSGSIZE: largest inbound message in bytes; -1 = no limit. Default 64 MiB (libzmq: no limit). */
  maxMessageSize: number;
  /** ZMQ_IMMEDIATE: queue messages only for completed connections. */
  immediate: boolean;
  /** ZMQ_IPV6: bind "*" dual-stack. */
  ipv6: boolean;
  /** ZMQ_BACKLOG: listen queue length. */
  backlog: number;
  /** ZMQ_HANDSHAKE_IVL: ms allowed for the ZMTP handshake; 0 = no limit. */
  handshakeInterval: number;
  /** ZMQ_HEARTBEAT_IVL: ms between PINGs; 0 = off. */
  heartbeatInterval: number;
  /** ZMQ_HEARTBEAT_TIMEOUT: ms to wait for traffic after a PING; -1 = heartbeatInterval. */
  heartbeatTimeout: number;
  /** ZMQ_HEARTBEAT_TTL: ms the peer may consider us alive after our PING (sent in tenths of a second). */
  heartbeatTimeToLive: number;
  /** ZMQ_CONNECT_TIMEOUT: ms a single connect attempt may take; 0 = the OS default. */
  connectTimeout: number;
  /** ZMQ_SNDHWM: messages queued per peer before send waits (or drops, for publishers); 0 = no limit. */
  sendHighWaterMark: number;
  /** ZMQ_RCVHWM: messages queued per peer before reading from it pauses; 0 = no limit. */
  receiveHighWaterMark: number;
  /** ZMQ_SNDTIMEO: ms send() may wait; -1 = forever, 0 = fail at once with EAGAIN. */
  sendTimeout: number;
  /** ZMQ_RCVTIMEO: ms receive() may wait; -1 = forever, 0 = fail at once with EAGAIN. */
  receiveTimeout: number;
  /** ZMQ_ROUTING_ID: our identity, 1-255 bytes, not starting with a zero byte. */
  routingId: string | null;
}

interface Spec<T> {
  default: T;
  check(value: unknown): value is T;
  describe: string;
}

const int = (min: number, max = 2 ** 31 - 1): Spec<number>["check"] =>
  (v): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const bool: Spec<boolean>["check"] = (v): v is boolean => typeof v === "boolean";

function spec<T>(value: T, check: Spec<T>["check"], describe: string): Spec<T> {
  return { default: value, check, describe };
}

export const CORE_OPTIONS: { readonly [K in keyof CoreOptions]: Spec<CoreOptions[K]> } = {
  linger: spec(-1, int(-1), "an integer >= -1"),
  reconnectInterval: spec(100, int(-1), "an integer >= -1"),
  reconnectMaxInterval: spec(0, int(0), "an integer >= 0"),
  maxMessageSize: spec(DEFAULT_MAX_MESSAGE_SIZE, int(-1, Number.MAX_SAFE_INTEGER), "an integer >= -1"),
  immediate: spec(false, bool, "a boolean"),
  ipv6: spec(false, bool, "a boolean"),
  backlog: spec(100, int(0), "an integer >= 0"),
  handshakeInterval: spec(30_000, int(0), "an integer >= 0"),
  heartbeatInterval: spec(0, int(0), "an integer >= 0"),
  heartbeatTimeout: spec(-1, int(-1), "an integer >= -1"),
  heartbeatTimeToLive: spec(0, int(0, 6_553_599), "an integer from 0 to 6553599"),
  connectTimeout: spec(0, int(0), "an integer >= 0"),
  sendHighWaterMark: spec(1000, int(0), "an integer >= 0"),
  receiveHighWaterMark: spec(1000, int(0), "an integer >= 0"),
  sendTimeout: spec(-1, int(-1), "an integer >= -1"),
  receiveTimeout: spec(-1, int(-1), "an integer >= -1"),
  routingId: spec<string | null>(
    null,
    (v): v is string | null =>
      v === null || (typeof v === "string" && Buffer.byteLength(v) >= 1 && Buffer.byteLength(v) <= 255 && v.charCodeAt(0) !== 0),
    "null or a string of 1-255 bytes not starting with a zero byte",
  ),
};

export function defaultCoreOptions(): CoreOptions {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(CORE_OPTIONS)) out[name] = s.default;
  return out as unknown as CoreOptions;
}

export function checkOption(name: string, value: unknown, s: Spec<unknown>): void {
  if (!s.check(value)) {
    throw new InvalidArgumentError(`option ${name} must be ${s.describe}, got ${String(value)}`);
  }
}

/** A boolean option with a default, for pattern-specific flags. */
export function boolSpec(value: boolean): Spec<boolean> {
  return spec(value, bool, "a boolean");
}

export type OptionSpec<T> = Spec<T>;

/**
 * ZMQ_CONFLATE, for the patterns that offer it (Push, Pull, Dealer,
 * Publisher, Subscriber): keep only the latest message in each queue,
 * ignoring the high-water marks. Meant for single-frame "latest value" feeds.
 */
export interface ConflateOption {
  conflate: boolean;
}
