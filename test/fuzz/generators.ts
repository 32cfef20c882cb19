/**
 * fast-check generators of hostile byte streams. Valid pieces come from the
 * encoders in src/wire (greeting, READY, commands, frames); the generators
 * then break them in the ways the ZMTP digest says a peer can: bad
 * signatures and versions, foreign mechanisms, impossible frame sizes,
 * malformed commands and metadata, data before READY, ERROR, endless
 * multipart messages, and random mutation of whole conversations.
 */
import fc from "fast-check";
import {
  FrameEncoder, SOCKET_TYPES, encodeCancel, encodeCommand, encodeError, encodeGreeting, encodeMetadata,
  encodePing, encodeReady, encodeSubscribe,
} from "../../src/wire/index.js";
import { PEERS_OF, type TargetType } from "./model.js";
import type { Chunking } from "./raw-peer.js";
import { GOOD_ID, MAX_MESSAGE_SIZE, TARGET_NAMES, type TargetName } from "./targets.js";

export interface HostileCase {
  target: TargetName;
  /** Which generator made it (shown on failure). */
  label: string;
  stream: Buffer;
  chunking: Chunking;
  /** Keep our side open after writing (Switchboard must end it), or end it. */
  keepOpen: boolean;
}

const TYPE_OF: Record<TargetName, TargetType> = { pull: "PULL", "pull-ipc": "PULL", router: "ROUTER", pub: "PUB", rep: "REP" };
const GREETING = encodeGreeting("NULL");

const bytes = (maxLength: number, minLength = 0): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));

/** Bytes biased to the values the decoder branches on. */
const edgyByte = fc.oneof(
  fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x7f, 0xff),
  fc.integer({ min: 0, max: 255 }),
);
const edgyBytes = (maxLength: number): fc.Arbitrary<Buffer> =>
  fc.array(edgyByte, { maxLength }).map((a) => Buffer.from(a));

function frames(message: readonly Buffer[], lastMore = false): Buffer {
  const encoder = new FrameEncoder();
  message.forEach((frame, i) => encoder.writeFrame(frame, i < message.length - 1 || lastMore));
  return Buffer.concat(encoder.take());
}

/** A peer type the target accepts. */
const goodPeerType = (type: TargetType): fc.Arbitrary<string> => fc.constantFrom(...PEERS_OF[type]);

/**
 * READY as a compatible peer sends it, with an optional Identity: sometimes the
 * one the good peer holds (ROUTER must refuse it), often one that earlier cases
 * used too (a closed peer's id must be free again).
 */
const validReady = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(
    goodPeerType(type),
    fc.oneof(fc.constant(undefined), fc.constant(Buffer.alloc(0)), bytes(12, 1), fc.constant(GOOD_ID), fc.constant(Buffer.from("again"))),
    fc.boolean(),
  ).map(([peer, identity, lower]) =>
    lower
      ? encodeCommand("READY", encodeMetadata([["socket-type", Buffer.from(peer)], ...(identity ? [["Identity", identity] as const] : [])]))
      : encodeReady(peer, identity, [["X-Fuzz", Buffer.from("1")]]),
  );

/** One message's frames: short, empty, long-header, and REQ-style envelopes. */
const message: fc.Arbitrary<Buffer[]> = fc.oneof(
  { weight: 4, arbitrary: fc.array(bytes(40), { minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.tuple(bytes(8), bytes(40)).map(([a, b]) => [Buffer.alloc(0), a, b]) },
  { weight: 1, arbitrary: fc.integer({ min: 256, max: 3000 }).map((n) => [Buffer.alloc(n, 0x61)]) },
  { weight: 1, arbitrary: fc.constant(null).map(() => [Buffer.alloc(0)]) },
);

/** What a compatible peer may send after READY. */
const trafficItem: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 5, arbitrary: message.map((m) => frames(m)) },
  {
    // Contexts around the 16 bytes a PONG echoes; now and then a TTL, whose timer the link must clear when it goes.
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 70_000 }), fc.oneof(bytes(20), bytes(20, 15))).map(([ttl, ctx]) =>
      encodePing(ttl < 60_000 ? 0 : ttl, ctx),
    ),
  },
  { weight: 1, arbitrary: bytes(30).map((t) => encodeSubscribe(t)) },
  { weight: 1, arbitrary: bytes(30).map((t) => encodeCancel(t)) },
  { weight: 1, arbitrary: fc.constantFrom("PONG", "JOIN", "X", "READY").map((n) => encodeCommand(n, Buffer.from("zz"))) },
  { weight: 1, arbitrary: bytes(30).map((t) => frames([Buffer.concat([Buffer.from([1]), t])])) },
);

const conversation = (type: TargetType, maxItems = 6): fc.Arbitrary<Buffer> =>
  fc.tuple(validReady(type), fc.array(trafficItem, { maxLength: maxItems })).map(([ready, items]) =>
    Buffer.concat([GREETING, ready, ...items]),
  );

// --- the hostile families --------------------------------------------------------

const truncatedGreeting = (): fc.Arbitrary<Buffer> => fc.integer({ min: 0, max: 63 }).map((n) => GREETING.subarray(0, n));

const wrongSignature = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 254 }), fc.integer({ min: 0, max: 127 }), conversation(type, 2)).map(
    ([first, b0, b9, rest]) => {
      const s = Buffer.from(rest);
      if (first) s[0] = b0;
      else s[9] = b9 << 1; // bit 0 clear
      return s;
    },
  );

const version = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(fc.oneof(fc.constantFrom(0, 1, 2, 4), fc.integer({ min: 0, max: 255 })), fc.integer({ min: 0, max: 255 }), conversation(type, 2))
    .map(([major, minor, rest]) => {
      const s = Buffer.from(rest);
      s[10] = major;
      s[11] = minor;
      return s;
    });

const mechanism = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(
    fc.oneof(
      fc.constantFrom("PLAIN", "CURVE", "GSSAPI", "NUL", "NULLX"),
      fc.stringMatching(/^[A-Z0-9_.+-]{1,20}$/),
      fc.constant("NULL"),
    ),
    fc.integer({ min: 16, max: 31 }),
    fc.integer({ min: 1, max: 255 }),
    conversation(type, 1),
  ).map(([name, at, junk, rest]) => {
    const s = Buffer.from(rest);
    s.fill(0, 12, 32);
    s.write(name, 12, "latin1");
    if (name === "NULL") s[at] = junk; // NULL, but not zero padded
    return s;
  });

/** A frame header announcing anything up to 2^64-1 bytes, short or long, data or command, with part of a body. */
const hugeFrame = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(
    fc.boolean(),
    fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x06),
    fc.oneof(
      fc.constantFrom(2n ** 64n - 1n, 2n ** 63n, 2n ** 53n, 2n ** 53n - 1n, 2n ** 32n, 2n ** 32n - 1n, BigInt(MAX_MESSAGE_SIZE + 1), BigInt(MAX_MESSAGE_SIZE)),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.bigInt({ min: 0n, max: BigInt(2 * MAX_MESSAGE_SIZE) }),
    ),
    bytes(600),
    conversation(type, 2),
  ).map(([beforeReady, flags, size, body, valid]) => {
    const header = Buffer.alloc(9);
    header[0] = flags;
    header.writeBigUInt64BE(size, 1);
    const head = (flags & 2) !== 0 ? header : Buffer.from([flags, Number(size & 0xffn)]);
    const prefix = beforeReady ? GREETING : valid;
    return Buffer.concat([prefix, head, body]);
  });

const badCommandFrame = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(
    fc.boolean(),
    fc.oneof(
      // MORE on a command
      fc.constantFrom(0x05, 0x07).map((f) => Buffer.concat([Buffer.from([f, 6, 4]), Buffer.from("PING\0\0")])),
      // empty commands, short and long
      fc.constant(Buffer.from([0x04, 0x00])),
      fc.constant(Buffer.from([0x06, 0, 0, 0, 0, 0, 0, 0, 0])),
      fc.constant(Buffer.from([0x04, 0, 0, 0, 0, 0, 0, 0, 0])),
      // command name longer than the body, or of length 0
      fc.constant(Buffer.from([0x04, 0x03, 0x09, 0x41, 0x42])),
      fc.constant(Buffer.from([0x04, 0x02, 0x00, 0x41])),
      // truncated PING
      fc.constant(encodeCommand("PING", Buffer.from([1]))),
    ),
    edgyBytes(20),
    conversation(type, 2),
  ).map(([beforeReady, bad, tail, valid]) => Buffer.concat([beforeReady ? GREETING : valid, bad, tail]));

const property = (name: string, value: Buffer): Buffer => encodeMetadata([[name, value]]);

const malformedReady = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(
    goodPeerType(type),
    fc.constantFrom(...SOCKET_TYPES.filter((t) => !PEERS_OF[type].includes(t)), "CLIENT", "", "pull", "PUSH\0"),
    fc.integer({ min: 0, max: 10 }),
    fc.array(trafficItem, { maxLength: 2 }),
  ).map(([peer, wrong, kind, after]) => {
    const typeProp = property("Socket-Type", Buffer.from(peer));
    let data: Buffer;
    switch (kind) {
      case 0: data = Buffer.concat([typeProp, Buffer.from([20, 0x41, 0x42])]); break; // name longer than the rest
      case 1: data = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), typeProp]); break; // zero-length name
      case 2: { // value length beyond the body
        const p = Buffer.from(typeProp);
        p.writeUInt32BE(p.length, 12);
        data = p;
        break;
      }
      case 3: data = property("Identity", Buffer.from("x")); break; // no Socket-Type
      case 4: data = property("Socket-Type", Buffer.from(wrong)); break; // incompatible
      case 5: data = Buffer.concat([typeProp, Buffer.from([7])]); break; // one trailing byte
      case 6: data = Buffer.concat([Buffer.from([3, 0x41, 0x20, 0x42, 0, 0, 0, 0]), typeProp]); break; // bad name char
      case 7: data = Buffer.concat([typeProp, Buffer.from([11]), Buffer.from("Socket-Type"), Buffer.from([0, 0])]); break; // truncated value length
      case 8: { // the last value one byte longer than what is left
        const p = Buffer.concat([property("Identity", Buffer.from("ab")), typeProp]);
        p.writeUInt32BE(peer.length + 1, p.length - peer.length - 4);
        data = p;
        break;
      }
      case 9: return Buffer.concat([GREETING, encodeCommand("READy", typeProp), ...after]); // not READY
      default: return Buffer.concat([GREETING, encodeCommand("READY", Buffer.concat([typeProp, typeProp])), ...after]); // repeated
    }
    return Buffer.concat([GREETING, encodeCommand("READY", data), ...after]);
  });

const dataBeforeReady = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(message, validReady(type)).map(([m, ready]) => Buffer.concat([GREETING, frames(m), ready]));

const peerError = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(
    fc.boolean(),
    fc.oneof(
      fc.string({ maxLength: 40 }).map((r) => encodeError(r)),
      fc.constant(encodeCommand("ERROR", Buffer.from([9, 0x61]))), // reason longer than the body
      fc.constant(encodeCommand("ERROR")), // no reason length at all
      fc.constant(Buffer.concat([Buffer.from([0x04, 0x08, 0x5e]), Buffer.from("RROR"), Buffer.from([2, 0x34, 0x30])])),
    ),
    conversation(type, 2),
  ).map(([beforeReady, error, valid]) => Buffer.concat([beforeReady ? GREETING : valid, error]));

const garbageAfter = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(conversation(type, 3), fc.oneof(bytes(300, 1), edgyBytes(60))).map(([s, g]) => Buffer.concat([s, g]));

/** A multipart message that never ends, in frames of any size; often beyond maxMessageSize in total. */
const moreForever = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(
    conversation(type, 1),
    fc.oneof(
      fc.integer({ min: 0, max: 300 }).map((n) => Array.from({ length: n }, () => 0)),
      fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 1, maxLength: 8 }),
    ),
  ).map(([s, sizes]) => Buffer.concat([s, frames(sizes.map((n) => Buffer.alloc(n, 0x6d)), true)]));

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Buffer }
  | { kind: "delete"; at: number; count: number }
  | { kind: "duplicate"; at: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: edgyBytes(9).filter((b) => b.length > 0) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 80 }) }) },
);

export function mutate(stream: Buffer, mutations: readonly Mutation[]): Buffer {
  let s = Buffer.from(stream);
  for (const m of mutations) {
    const at = s.length === 0 ? 0 : m.at % (s.length + 1);
    switch (m.kind) {
      case "flip":
        if (s.length > 0) s[at % s.length]! ^= 1 << m.bit;
        break;
      case "truncate":
        s = s.subarray(0, at);
        break;
      case "insert":
        s = Buffer.concat([s.subarray(0, at), m.bytes, s.subarray(at)]);
        break;
      case "delete":
        s = Buffer.concat([s.subarray(0, at), s.subarray(at + m.count)]);
        break;
      case "duplicate":
        s = Buffer.concat([s.subarray(0, at + m.count), s.subarray(at)]);
        break;
    }
  }
  return s;
}

const mutated = (type: TargetType): fc.Arbitrary<Buffer> =>
  fc.tuple(conversation(type), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([s, ms]) => mutate(s, ms));

const randomStream = (): fc.Arbitrary<Buffer> =>
  fc.tuple(fc.constantFrom(Buffer.alloc(0), Buffer.from([0xff]), GREETING), fc.oneof(bytes(200), edgyBytes(200))).map(([p, b]) =>
    Buffer.concat([p, b]),
  );

const FAMILIES: ReadonlyArray<[string, number, (type: TargetType) => fc.Arbitrary<Buffer>]> = [
  ["valid conversation", 2, (t) => conversation(t)],
  ["truncated greeting", 2, truncatedGreeting],
  ["wrong signature", 1, wrongSignature],
  ["version", 2, version],
  ["mechanism", 1, mechanism],
  ["huge frame", 2, hugeFrame],
  ["bad command frame", 2, badCommandFrame],
  ["malformed READY", 3, malformedReady],
  ["data before READY", 1, dataBeforeReady],
  ["peer ERROR", 1, peerError],
  ["garbage after handshake", 2, garbageAfter],
  ["more forever", 2, moreForever],
  ["mutated conversation", 5, mutated],
  ["random bytes", 1, randomStream],
];

const chunking = (length: number): fc.Arbitrary<Chunking> =>
  fc.oneof(
    fc.constant({ kind: "whole" as const }),
    fc.constant({ kind: "bytes" as const }),
    fc.array(fc.integer({ min: 0, max: Math.max(0, length) }), { maxLength: 30 }).map((cuts) => ({ kind: "cuts" as const, cuts })),
  );

/** A hostile case against one of the targets. */
export const hostileCase: fc.Arbitrary<HostileCase> = fc
  .tuple(fc.constantFrom(...TARGET_NAMES), fc.constantFrom(...FAMILIES.flatMap((f) => Array<typeof f>(f[1]).fill(f))))
  .chain(([target, [label, , family]]) =>
    family(TYPE_OF[target]).chain((stream) =>
      fc.record({
        target: fc.constant(target),
        label: fc.constant(label),
        stream: fc.constant(stream),
        chunking: chunking(stream.length),
        keepOpen: fc.boolean(),
      }).map((c) => Object.assign(c, { [fc.toStringMethod]: () => describeCase(c) })),
    ),
  );

/** A readable counterexample: the stream in hex (head and tail when long). */
function describeCase(c: HostileCase): string {
  const hex = c.stream.length <= 600
    ? c.stream.toString("hex")
    : `${c.stream.subarray(0, 400).toString("hex")}...(${c.stream.length - 500} bytes)...${c.stream.subarray(-100).toString("hex")}`;
  const how = c.chunking.kind === "cuts" ? `cuts ${JSON.stringify(c.chunking.cuts)}` : c.chunking.kind;
  return `${c.label} -> ${c.target}, ${c.stream.length} bytes, ${how}, ${c.keepOpen ? "kept open" : "ended"}: ${hex}`;
}

