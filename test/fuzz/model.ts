/**
 * A reference model of what a bound Switchboard socket must do with the bytes
 * one peer sends it, written from the ZMTP digest (§2.2-2.11) and the
 * documented option semantics, independently of src/wire. The hostile-peer
 * fuzz test runs every generated stream through it and compares the live
 * socket with its verdict:
 *
 * - "refused": the stream is invalid; the socket must close the connection
 *   by itself and report one of `codes` (several when more than one rule is
 *   broken by the same frame, since the order of checks is not part of the
 *   contract);
 * - "pending": the handshake never completes; only the handshake deadline
 *   (or the peer leaving) ends the connection;
 * - "duplicate": a ROUTER peer announced a routing id already in use;
 * - "ready": valid so far; the connection must stay up and in sync.
 *
 * Alongside, it predicts the messages the application receives from that
 * peer and the PONGs the peer gets back.
 */
import type { ProtocolErrorCode } from "../../src/errors.js";

export type TargetType = "PULL" | "ROUTER" | "PUB" | "REP";

/** Who may connect to each target type (digest §2.8). */
export const PEERS_OF: Readonly<Record<TargetType, readonly string[]>> = {
  PULL: ["PUSH"],
  ROUTER: ["REQ", "DEALER", "ROUTER"],
  PUB: ["SUB", "XSUB"],
  REP: ["REQ", "DEALER"],
};

export interface ModelConfig {
  type: TargetType;
  /** The socket's maxMessageSize (-1: no limit). */
  maxMessageSize: number;
  /** ROUTER: routing ids other peers already hold. */
  takenIds?: readonly Buffer[];
}

export type Phase = "greeting" | "handshake" | "traffic";

export type Verdict =
  | { kind: "refused"; phase: Phase; codes: ProtocolErrorCode[]; at: number }
  | { kind: "pending"; earlyCodes: ProtocolErrorCode[] }
  | { kind: "duplicate" }
  | { kind: "ready" };

export interface ModelResult {
  verdict: Verdict;
  /** Messages the application must receive from this peer, in order. */
  delivered: Buffer[][];
  /** Context of each PONG the peer must get back (at most 16 bytes each). */
  pongs: Buffer[];
  /** The peer's non-empty Identity, once it is known (ROUTER names the peer with it). */
  identity: Buffer | undefined;
}

const PROPERTY_NAME = /^[A-Za-z0-9_.+-]+$/;
const LIMIT = 2n ** 53n;

/** A streaming model of one peer's bytes. Feed it with `push`, read the result any time. */
export class PeerModel {
  private state: "greeting" | "handshake" | "traffic" | "done" = "greeting";
  private verdict: Verdict | undefined;
  private readonly greeting: number[] = [];
  private header: number[] = [];
  private body: number[] = [];
  private bodySize = -1;
  private flags = 0;
  private parts: Buffer[] = [];
  private partsSize = 0;
  private offset = 0;
  private identity: Buffer | undefined;
  private readonly messages: Buffer[][] = [];
  private readonly pongs: Buffer[] = [];

  constructor(private readonly config: ModelConfig) {}

  result(): ModelResult {
    let verdict = this.verdict;
    if (!verdict) {
      if (this.state === "traffic") {
        verdict = { kind: "ready" };
      } else {
        // A data frame whose header arrived during the handshake may be refused before its body is in.
        const early: ProtocolErrorCode[] =
          this.state === "handshake" && this.bodySize >= 0 && (this.flags & 4) === 0 ? ["ERR_ZMTP_UNEXPECTED_COMMAND"] : [];
        verdict = { kind: "pending", earlyCodes: early };
      }
    }
    return { verdict, delivered: this.messages, pongs: this.pongs, identity: this.identity };
  }

  push(bytes: Uint8Array): this {
    for (const byte of bytes) {
      if (this.state === "done") break;
      this.offset++;
      if (this.state === "greeting") this.greetingByte(byte);
      else this.frameByte(byte);
    }
    return this;
  }

  /**
   * Bytes that bring a ready connection to a frame boundary outside any
   * multipart message, so that a PING sent next is read as a PING; undefined
   * when that is not possible cheaply (the model decides again on the
   * completed stream, which may well be refused: that is fine).
   */
  completion(): Buffer | undefined {
    if (this.verdict || this.state !== "traffic") return undefined;
    const out: number[] = [];
    const command = this.header.length > 0 && (this.header[0]! & 4) !== 0;
    if (this.header.length > 0 && this.bodySize < 0) {
      const long = (this.header[0]! & 2) !== 0 || (command && this.header.length >= 2 && this.header[1] === 0);
      const need = (long ? 9 : 2) - this.header.length;
      for (let i = 0; i < need; i++) out.push(0);
      // Give a command a one-byte name: a size of 2 ("\x01X", an unknown command, ignored).
      if (command && need > 0) out[out.length - 1] = 2;
      const size = long ? Number(readSize([...this.header, ...out].slice(1, 9))) : (out[0] ?? this.header[1] ?? 0);
      if (!Number.isSafeInteger(size) || size > 70_000) return undefined;
      if (command) out.push(...commandFiller(size, 0));
      else for (let i = 0; i < size; i++) out.push(0);
    } else if (this.bodySize >= 0) {
      const remaining = this.bodySize - this.body.length;
      if (command) out.push(...commandFiller(this.bodySize, this.body.length));
      else for (let i = 0; i < remaining; i++) out.push(0);
    }
    const inProgress = this.header.length > 0;
    const open = inProgress && !command ? (this.header[0]! & 1) !== 0 : this.parts.length > 0;
    if (open) out.push(0x00, 0x00); // a last, empty frame ends the message
    return Buffer.from(out);
  }

  // --- greeting (digest §2.2) ------------------------------------------------

  private greetingByte(byte: number): void {
    const g = this.greeting;
    g.push(byte);
    const i = g.length - 1;
    if (i === 0 && byte !== 0xff) return this.refuse("ERR_ZMTP_BAD_SIGNATURE");
    if (i === 9 && (byte & 1) === 0) return this.refuse("ERR_ZMTP_BAD_SIGNATURE");
    if (i === 10 && byte < 3) return this.refuse("ERR_ZMTP_UNSUPPORTED_VERSION");
    if (g.length < 64) return;
    const mechanism = g.slice(12, 32);
    const end = mechanism.indexOf(0) < 0 ? 20 : mechanism.indexOf(0);
    const name = Buffer.from(mechanism.slice(0, end)).toString("latin1");
    // The mechanism is compared over all 20 bytes: it must be NULL, zero padded.
    if (name !== "NULL" || mechanism.slice(end).some((b) => b !== 0)) return this.refuse("ERR_ZMTP_MECHANISM_MISMATCH");
    this.state = "handshake";
  }

  // --- framing (digest §2.4) -------------------------------------------------

  private frameByte(byte: number): void {
    if (this.bodySize < 0) {
      this.header.push(byte);
      const h = this.header;
      const flags = h[0]!;
      if (h.length < 2) return;
      // A command cannot have a one-byte size of 0, so `04 00` is read as the
      // start of an 8-byte size (libzmq <= 4.3.4's SUBSCRIBE bug, digest §2.10).
      const long = (flags & 2) !== 0 || ((flags & 4) !== 0 && h[1] === 0);
      if (long && h.length < 9) return;
      const size = long ? readSize(h.slice(1, 9)) : BigInt(h[1]!);
      this.flags = flags;
      const codes: ProtocolErrorCode[] = [];
      const command = (flags & 4) !== 0;
      if (command && (flags & 1) !== 0) codes.push("ERR_ZMTP_INVALID_FRAME");
      if (command && size === 0n) codes.push("ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED");
      const max = this.config.maxMessageSize;
      if (size >= LIMIT || (max >= 0 && size > BigInt(max))) codes.push("ERR_ZMTP_MESSAGE_TOO_LARGE");
      if (codes.length > 0) {
        // Data before READY may be refused for that reason as well.
        if (!command && this.state === "handshake") codes.push("ERR_ZMTP_UNEXPECTED_COMMAND");
        return this.refuse(...codes);
      }
      this.bodySize = Number(size);
      this.body = [];
      if (this.bodySize > 0) return;
    } else {
      this.body.push(byte);
      if (this.body.length < this.bodySize) return;
    }
    const body = Buffer.from(this.body);
    const flags = this.flags;
    this.header = [];
    this.body = [];
    this.bodySize = -1;
    if (this.state === "handshake") this.handshakeFrame(body, flags);
    else this.trafficFrame(body, flags);
  }

  // --- NULL handshake (digest §2.6-2.8) ----------------------------------------

  private handshakeFrame(body: Buffer, flags: number): void {
    if ((flags & 4) === 0) return this.refuse("ERR_ZMTP_UNEXPECTED_COMMAND");
    const command = splitCommand(body);
    if (!command) return this.refuse("ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED");
    if (command.name === "ERROR") return this.refuse(errorCommandCode(command.data));
    if (command.name !== "READY") return this.refuse("ERR_ZMTP_UNEXPECTED_COMMAND");
    const properties = parseProperties(command.data);
    if (!properties) return this.refuse("ERR_ZMTP_MALFORMED_COMMAND_READY");
    const socketType = property(properties, "Socket-Type");
    if (socketType === undefined) return this.refuse("ERR_ZMTP_MALFORMED_COMMAND_READY");
    if (!PEERS_OF[this.config.type].includes(socketType.toString("latin1"))) {
      return this.refuse("ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE");
    }
    const identity = property(properties, "Identity");
    this.identity = identity !== undefined && identity.length > 0 ? identity : undefined;
    if (this.config.type === "ROUTER" && this.identity) {
      const id = this.identity;
      if ((this.config.takenIds ?? []).some((taken) => taken.equals(id))) {
        this.verdict = { kind: "duplicate" };
        this.state = "done";
        return;
      }
    }
    this.state = "traffic";
  }

  // --- traffic ---------------------------------------------------------------

  private trafficFrame(body: Buffer, flags: number): void {
    if ((flags & 4) !== 0) {
      const command = splitCommand(body);
      if (!command) return this.refuse("ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED");
      if (command.name === "PING") {
        if (command.data.length < 2) return this.refuse("ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED");
        this.pongs.push(command.data.subarray(2, 18));
      } else if (command.name === "ERROR") {
        return this.refuse(errorCommandCode(command.data));
      }
      // SUBSCRIBE and CANCEL change state we do not model; the rest is ignored.
      return;
    }
    const max = this.config.maxMessageSize;
    this.partsSize += body.length;
    // maxMessageSize bounds the whole message, not only each frame.
    if (max >= 0 && this.partsSize > max) return this.refuse("ERR_ZMTP_MESSAGE_TOO_LARGE");
    this.parts.push(body);
    if ((flags & 1) !== 0) return;
    const frames = this.parts;
    this.parts = [];
    this.partsSize = 0;
    this.deliver(frames);
  }

  /** What the application sees of one complete message, per socket type. */
  private deliver(frames: Buffer[]): void {
    switch (this.config.type) {
      case "PULL":
        this.messages.push(frames);
        return;
      case "ROUTER":
        // The routing id is put in front by the receiver; the test fills it in.
        this.messages.push(frames);
        return;
      case "REP": {
        // The envelope ends at the first empty frame, which must be followed by a body (RFC 28; libzmq
        // discards a request without one).
        const split = frames.findIndex((f) => f.length === 0);
        if (split >= 0 && split < frames.length - 1) this.messages.push(frames.slice(split + 1));
        return;
      }
      case "PUB":
        return; // subscriptions or upstream data: nothing reaches a PUB application
    }
  }

  private refuse(...codes: ProtocolErrorCode[]): void {
    const phase: Phase = this.state === "done" ? "traffic" : this.state;
    this.verdict = { kind: "refused", phase, codes, at: this.offset };
    this.state = "done";
  }
}

/** Runs `bytes` through a fresh model. */
export function simulate(config: ModelConfig, bytes: Uint8Array): ModelResult {
  return new PeerModel(config).push(bytes).result();
}

function readSize(bytes: readonly number[]): bigint {
  let size = 0n;
  for (const b of bytes) size = (size << 8n) | BigInt(b);
  return size;
}

/** `name-length name data`; libzmq's PLAIN server writes ERROR as `5E 'RROR'` (digest §3.4), also accepted. */
function splitCommand(body: Buffer): { name: string; data: Buffer } | undefined {
  const length = body[0] ?? 0;
  if (length > 0 && body.length >= 1 + length) {
    return { name: body.toString("latin1", 1, 1 + length), data: body.subarray(1 + length) };
  }
  if (body.length >= 5 && body[0] === 0x5e && body.toString("latin1", 1, 5) === "RROR") {
    return { name: "ERROR", data: body.subarray(5) };
  }
  return undefined;
}

function errorCommandCode(data: Buffer): ProtocolErrorCode {
  const length = data[0];
  return length === undefined || 1 + length > data.length ? "ERR_ZMTP_MALFORMED_COMMAND_ERROR" : "ERR_ZMTP_PEER_ERROR";
}

/** Metadata properties (digest §2.7), or undefined when malformed. */
function parseProperties(data: Buffer): Array<[string, Buffer]> | undefined {
  const out: Array<[string, Buffer]> = [];
  let at = 0;
  while (at < data.length) {
    const nameLength = data[at]!;
    if (nameLength === 0 || at + 1 + nameLength + 4 > data.length) return undefined;
    const name = data.toString("latin1", at + 1, at + 1 + nameLength);
    if (!PROPERTY_NAME.test(name)) return undefined;
    at += 1 + nameLength;
    const valueLength = data.readUInt32BE(at);
    at += 4;
    if (valueLength > data.length - at) return undefined;
    out.push([name, data.subarray(at, at + valueLength)]);
    at += valueLength;
  }
  return out;
}

/** The first property of that name, matched case-insensitively as the RFC says. */
function property(properties: Array<[string, Buffer]>, name: string): Buffer | undefined {
  return properties.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

/** Body bytes from `have` up to `size` for a command whose body is `01 'X'` padded with 'X'. */
function commandFiller(size: number, have: number): number[] {
  const out: number[] = [];
  for (let i = have; i < size; i++) out.push(i === 0 ? Math.max(1, size - 1) : 0x58);
  return out;
}
