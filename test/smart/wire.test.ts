// aiomsg v1 framing: the spec's captured vectors byte for byte (encode, and
// decode through every split), malformed input, and fuzzing of the decoder.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ProtocolError } from "../../src/index.js";
import { chunksAt } from "../wire/support.js";
import {
  FrameDecoder, TYPE_ACK, TYPE_DATA, TYPE_DATA_REQ, TYPE_HEARTBEAT, TYPE_HELLO,
  encodeAck, encodeData, encodeDataReq, encodeFrame, encodeHeartbeat, encodeHello, parseEnvelope,
  type Envelope, type Frame,
} from "../../src/smart/index.js";

const hex = (s: string): Buffer => Buffer.from(s.replaceAll(" ", ""), "hex");
const MSG_ID = hex("97a28638c61947849cf4e28daf26ee20");

/** The vectors of the protocol facts (captured between two real aiomsg peers), with what each encodes. */
const VECTORS: Array<{ name: string; bytes: Buffer; encode: () => Buffer; envelope: Envelope }> = [
  {
    name: "HELLO, identity 22 x16",
    bytes: hex("00000012 01 01 22222222222222222222222222222222"),
    encode: () => encodeHello(Buffer.alloc(16, 0x22)),
    envelope: { kind: "hello", version: 1, identity: Buffer.alloc(16, 0x22) },
  },
  {
    name: "HELLO, identity 11 x16",
    bytes: hex("00000012 01 01 11111111111111111111111111111111"),
    encode: () => encodeHello(Buffer.alloc(16, 0x11)),
    envelope: { kind: "hello", version: 1, identity: Buffer.alloc(16, 0x11) },
  },
  {
    name: "DATA \"hello\"",
    bytes: hex("00000006 03 68656c6c6f"),
    encode: () => encodeData(Buffer.from("hello")),
    envelope: { kind: "data", payload: Buffer.from("hello") },
  },
  {
    name: "DATA_REQ \"req-1\"",
    bytes: hex("00000016 04 97a28638c61947849cf4e28daf26ee20 7265712d31"),
    encode: () => encodeDataReq(MSG_ID, Buffer.from("req-1")),
    envelope: { kind: "data-req", id: MSG_ID, payload: Buffer.from("req-1") },
  },
  {
    name: "ACK of that",
    bytes: hex("00000011 05 97a28638c61947849cf4e28daf26ee20"),
    encode: () => encodeAck(MSG_ID),
    envelope: { kind: "ack", id: MSG_ID },
  },
  {
    name: "HEARTBEAT",
    bytes: hex("00000001 02"),
    encode: () => encodeHeartbeat(),
    envelope: { kind: "heartbeat" },
  },
];

/** Decodes `chunks` in order, returning every envelope (throws what the decoder throws). */
function decodeAll(chunks: readonly Buffer[], max?: number): Envelope[] {
  const decoder = new FrameDecoder(max);
  const out: Envelope[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) out.push(parseEnvelope(frame));
  }
  return out;
}

const splitAt = chunksAt;

function isAiomsgError(error: unknown): boolean {
  return error instanceof ProtocolError && error.code.startsWith("ERR_AIOMSG_");
}

describe("aiomsg v1 wire vectors", () => {
  for (const vector of VECTORS) {
    it(`encodes ${vector.name} byte for byte`, { timeout: 5_000 }, () => {
      assert.deepEqual(vector.encode(), vector.bytes);
    });

    it(`decodes ${vector.name} through every split into two and three chunks`, { timeout: 5_000 }, () => {
      const n = vector.bytes.length;
      for (let a = 0; a <= n; a++) {
        assert.deepEqual(decodeAll(splitAt(vector.bytes, [a])), [vector.envelope], `split at ${a}`);
        for (let b = a; b <= n; b++) {
          assert.deepEqual(decodeAll(splitAt(vector.bytes, [a, b])), [vector.envelope], `split at ${a}, ${b}`);
        }
      }
    });
  }

  it("decodes all the vectors back to back, one byte at a time", { timeout: 5_000 }, () => {
    const stream = Buffer.concat(VECTORS.map((v) => v.bytes));
    const bytes = [...stream].map((b) => Buffer.of(b));
    assert.deepEqual(decodeAll(bytes), VECTORS.map((v) => v.envelope));
  });

  it("decodes all the vectors back to back through every split into two chunks", { timeout: 5_000 }, () => {
    const stream = Buffer.concat(VECTORS.map((v) => v.bytes));
    for (let a = 0; a <= stream.length; a++) {
      assert.deepEqual(decodeAll(splitAt(stream, [a])), VECTORS.map((v) => v.envelope), `split at ${a}`);
    }
  });
});

describe("aiomsg v1 envelope rules", () => {
  it("an unknown type decodes as unknown (to be skipped), its body consumed", { timeout: 5_000 }, () => {
    const stream = Buffer.concat([encodeFrame(0x7f, Buffer.from("future stuff")), encodeData(Buffer.from("after"))]);
    assert.deepEqual(decodeAll([stream]), [{ kind: "unknown", type: 0x7f }, { kind: "data", payload: Buffer.from("after") }]);
  });

  it("an empty DATA payload is a message of zero bytes", { timeout: 5_000 }, () => {
    assert.deepEqual(decodeAll([hex("00000001 03")]), [{ kind: "data", payload: Buffer.alloc(0) }]);
  });

  const malformed: Array<[string, Buffer, string]> = [
    ["a zero length", hex("00000000"), "ERR_AIOMSG_MALFORMED"],
    ["a HELLO of version 2", hex("00000012 01 02 22222222222222222222222222222222"), "ERR_AIOMSG_VERSION"],
    ["a HELLO with a short identity", hex("00000005 01 01 22222222"), "ERR_AIOMSG_BAD_HELLO"],
    ["a HELLO without a version", hex("00000001 01"), "ERR_AIOMSG_BAD_HELLO"],
    ["a DATA_REQ without room for its id", hex("00000005 04 01020304"), "ERR_AIOMSG_MALFORMED"],
    ["an ACK with a short id", hex("00000003 05 0102"), "ERR_AIOMSG_MALFORMED"],
  ];
  for (const [what, bytes, code] of malformed) {
    it(`refuses ${what} with ${code}`, { timeout: 5_000 }, () => {
      assert.throws(() => decodeAll([bytes]), (error: unknown) => error instanceof ProtocolError && error.code === code);
    });
  }

  it("refuses a length above maxFrameSize before waiting for its body", { timeout: 5_000 }, () => {
    const decoder = new FrameDecoder(1024);
    decoder.push(hex("00000401")); // 1025
    assert.throws(() => decoder.next(), (error: unknown) => error instanceof ProtocolError && error.code === "ERR_AIOMSG_FRAME_TOO_LARGE");
    // The decoder stays failed: nothing more is parsed from this stream.
    assert.throws(() => decoder.push(hex("03")), ProtocolError);
  });

  it("accepts a frame of exactly maxFrameSize bytes", { timeout: 5_000 }, () => {
    const payload = Buffer.alloc(1023, 7);
    assert.deepEqual(decodeAll([encodeData(payload)], 1024), [{ kind: "data", payload }]);
  });

  it("knows when it stands between frames (a clean EOF point)", { timeout: 5_000 }, () => {
    const decoder = new FrameDecoder();
    assert.equal(decoder.atBoundary, true);
    decoder.push(hex("0000"));
    assert.equal(decoder.atBoundary, false);
    decoder.push(hex("0001 02"));
    assert.equal(decoder.next()?.type, TYPE_HEARTBEAT);
    assert.equal(decoder.atBoundary, true);
  });
});

const envelopeArb: fc.Arbitrary<{ bytes: Buffer; envelope: Envelope }> = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((identity) => ({
    bytes: encodeHello(identity),
    envelope: { kind: "hello", version: 1, identity: Buffer.from(identity) } as Envelope,
  })),
  fc.constant({ bytes: encodeHeartbeat(), envelope: { kind: "heartbeat" } as Envelope }),
  fc.uint8Array({ maxLength: 300 }).map((payload) => ({
    bytes: encodeData(payload),
    envelope: { kind: "data", payload: Buffer.from(payload) } as Envelope,
  })),
  fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 300 })).map(([msgId, payload]) => ({
    bytes: encodeDataReq(msgId, payload),
    envelope: { kind: "data-req", id: Buffer.from(msgId), payload: Buffer.from(payload) } as Envelope,
  })),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((msgId) => ({
    bytes: encodeAck(msgId),
    envelope: { kind: "ack", id: Buffer.from(msgId) } as Envelope,
  })),
  fc.tuple(fc.integer({ min: 6, max: 255 }), fc.uint8Array({ maxLength: 50 })).map(([type, body]) => ({
    bytes: encodeFrame(type, body),
    envelope: { kind: "unknown", type } as Envelope,
  })),
);

/** Cut points for a buffer of `length` bytes. */
const cutsArb = (length: number): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 0, max: length }), { maxLength: 20 }).map((cuts) => [...cuts].sort((a, b) => a - b));

describe("aiomsg v1 decoder fuzzing", () => {
  it("any sequence of envelopes, chunked any way, decodes back to the same sequence", { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(
        fc.array(envelopeArb, { maxLength: 20 }).chain((items) => {
          const bytes = Buffer.concat(items.map((i) => i.bytes));
          return fc.tuple(fc.constant(items), fc.constant(bytes), cutsArb(bytes.length));
        }),
        ([items, bytes, cuts]) => {
          assert.deepEqual(decodeAll(splitAt(bytes, cuts)), items.map((i) => i.envelope));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("random bytes in random chunks only ever raise an ERR_AIOMSG_ error, and buffering stays bounded", { timeout: 60_000 }, () => {
    const max = 256;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }).chain((raw) => fc.tuple(fc.constant(Buffer.from(raw)), cutsArb(raw.length))),
        fc.boolean(),
        ([bytes, cuts], plausible) => {
          // Half the runs start every frame with a small length so real frames get parsed, not just refused.
          if (plausible && bytes.length >= 4) bytes.writeUInt32BE(bytes.readUInt32BE(0) % 300, 0);
          const decoder = new FrameDecoder(max);
          try {
            for (const chunk of splitAt(bytes, cuts)) {
              decoder.push(chunk);
              for (let frame: Frame | undefined = decoder.next(); frame !== undefined; frame = decoder.next()) {
                assert.ok(frame.body.length < max, "a frame never exceeds the limit");
                parseEnvelope(frame);
              }
              // All complete frames were taken: what is left is less than one frame plus its prefix.
              assert.ok(decoder.buffered < max + 4, `buffered ${decoder.buffered} bytes`);
            }
          } catch (error) {
            if (!isAiomsgError(error)) throw error;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("a huge announced length is refused at once, whatever follows", { timeout: 30_000 }, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1025, max: 0xffffffff }), fc.uint8Array({ maxLength: 100 }), (length, rest) => {
        const header = Buffer.alloc(4);
        header.writeUInt32BE(length, 0);
        const decoder = new FrameDecoder(1024);
        decoder.push(header);
        decoder.push(Buffer.from(rest));
        assert.throws(() => decoder.next(), (e: unknown) => e instanceof ProtocolError && e.code === "ERR_AIOMSG_FRAME_TOO_LARGE");
      }),
      { numRuns: 300 },
    );
  });

  it("types are the protocol's numbers", { timeout: 5_000 }, () => {
    assert.deepEqual([TYPE_HELLO, TYPE_HEARTBEAT, TYPE_DATA, TYPE_DATA_REQ, TYPE_ACK], [1, 2, 3, 4, 5]);
  });
});
