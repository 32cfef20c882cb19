/**
 * FrameEncoder batching and referencing, the command encoders' edge cases,
 * and an encode/decode round trip under random chunking.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  COPY_THRESHOLD,
  FLAG_MORE,
  FrameEncoder,
  encodeCancel,
  encodeCommand,
  encodeError,
  encodeFrame,
  encodeGreeting,
  encodeMetadata,
  encodePing,
  encodePong,
  encodeReady,
  encodeSubscribe,
  parseCommand,
  parseError,
  parseMetadata,
  parsePing,
} from "../../src/wire/index.js";
import { ascii, chunksAt, cutsFor, decode, hex } from "./support.js";

function patterned(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** The body of one encoded frame, whatever its header form. */
function bodyOf(frame: Buffer): Buffer {
  const result = decode([frame]);
  assert.equal(result.recorder.frames.length, 1);
  return result.recorder.frames[0]!.body;
}

function total(chunks: readonly Buffer[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

describe("FrameEncoder batching", () => {
  it("many small frames leave as a few chunks that decode back to the same frames", () => {
    const encoder = new FrameEncoder();
    const frames: Array<{ flags: number; body: Buffer }> = [];
    for (let i = 0; i < 5000; i++) {
      const body = patterned(i % 40, i);
      const more = i % 3 !== 2;
      encoder.writeFrame(body, more);
      frames.push({ flags: more ? FLAG_MORE : 0, body });
    }
    const chunks = encoder.take();
    assert.ok(chunks.length <= 3, `${chunks.length} chunks for ${total(chunks)} bytes`);
    assert.deepEqual(decode(chunks).recorder.frames, frames);
  });

  it("a body over COPY_THRESHOLD is referenced, not copied", () => {
    const encoder = new FrameEncoder();
    const big = patterned(COPY_THRESHOLD + 1, 9);
    encoder.writeFrame(ascii("head"), true);
    encoder.writeFrame(big, true);
    encoder.writeFrame(ascii("tail"), false);
    const chunks = encoder.take();
    assert.ok(chunks.includes(big), "the caller's buffer is one of the chunks");
    assert.deepEqual(
      decode(chunks).recorder.frames.map((f) => f.body),
      [ascii("head"), big, ascii("tail")],
    );
  });

  it("a plain Uint8Array over COPY_THRESHOLD is referenced as a view of the same memory", () => {
    const backing = new Uint8Array(COPY_THRESHOLD + 100);
    const view = backing.subarray(50, 50 + COPY_THRESHOLD + 10);
    view.fill(7);
    const encoder = new FrameEncoder();
    encoder.writeFrame(view, false);
    const chunks = encoder.take();
    const ref = chunks.find((c) => c.buffer === backing.buffer);
    assert.ok(ref, "a chunk views the caller's memory");
    assert.equal(ref.byteOffset, view.byteOffset);
    assert.equal(ref.length, view.length);
    assert.deepEqual(decode(chunks).recorder.frames[0]?.body, Buffer.from(view));
  });

  it("bodies up to COPY_THRESHOLD are copied: the caller may reuse its buffer at once", () => {
    for (const size of [1, 31, 32, 255, 256, COPY_THRESHOLD]) {
      const body = Buffer.alloc(size, 0x61);
      const encoder = new FrameEncoder();
      encoder.writeFrame(body, false);
      body.fill(0x7a);
      const chunks = encoder.take();
      assert.ok(!chunks.includes(body));
      assert.deepEqual(decode(chunks).recorder.frames[0]?.body, Buffer.alloc(size, 0x61), `size ${size}`);
    }
  });

  it("pending counts the bytes of the batch (headers included) and take() resets it", () => {
    const encoder = new FrameEncoder();
    assert.equal(encoder.pending, 0);
    const sizes = [0, 5, 255, 256, COPY_THRESHOLD, COPY_THRESHOLD + 1];
    let expected = 0;
    for (const size of sizes) {
      encoder.writeFrame(Buffer.alloc(size), true);
      expected += size + (size <= 255 ? 2 : 9);
      assert.equal(encoder.pending, expected, `after a ${size}-byte frame`);
    }
    const greeting = encodeGreeting();
    encoder.writeRaw(greeting);
    expected += greeting.length;
    assert.equal(encoder.pending, expected);
    const chunks = encoder.take();
    assert.equal(total(chunks), expected);
    assert.equal(encoder.pending, 0);
    assert.deepEqual(encoder.take(), []);
  });

  it("writeRaw keeps order with frames; raw bytes over COPY_THRESHOLD are referenced", () => {
    const encoder = new FrameEncoder();
    const bigRaw = encodeFrame(patterned(COPY_THRESHOLD + 5, 3));
    encoder.writeRaw(encodeGreeting());
    encoder.writeRaw(encodeReady("PUSH", undefined));
    encoder.writeFrame(ascii("one"), false);
    encoder.writeRaw(bigRaw);
    encoder.writeFrame(ascii("two"), false);
    const chunks = encoder.take();
    assert.ok(chunks.includes(bigRaw));
    const result = decode(chunks, { greeting: true });
    assert.equal(result.error, undefined);
    assert.equal(result.recorder.greetings.length, 1);
    assert.deepEqual(
      result.recorder.frames.map((f) => f.body.length),
      [encodeReady("PUSH", undefined).length - 2, 3, COPY_THRESHOLD + 5, 3],
    );
  });

  it("chunks already taken stay intact while the encoder goes on writing", () => {
    const encoder = new FrameEncoder();
    encoder.writeFrame(patterned(1000, 1), false);
    const first = encoder.take();
    const snapshot = Buffer.concat(first);
    for (let i = 0; i < 300; i++) encoder.writeFrame(patterned(1000, i), false);
    encoder.take();
    encoder.writeFrame(patterned(100_000, 5), false);
    encoder.take();
    assert.deepEqual(Buffer.concat(first), snapshot);
  });

  it("a frame larger than the whole batch buffer is encoded correctly", () => {
    const body = patterned(200_000, 77);
    const result = decode([encodeFrame(body, true)]);
    assert.deepEqual(result.recorder.frames, [{ flags: FLAG_MORE, body }]);
  });
});

describe("command encoders", () => {
  it("encodeCommand uses the short header up to a 255-byte body and the long one above", () => {
    const short = encodeCommand("X", Buffer.alloc(253));
    assert.deepEqual(short.subarray(0, 4), hex("04 ff 01 58"));
    const long = encodeCommand("X", Buffer.alloc(254));
    assert.deepEqual(long.subarray(0, 11), hex("06 00 00 00 00 00 00 01 00 01 58"));
    assert.equal(long.length, 9 + 256);
  });

  it("SUBSCRIBE/CANCEL topics where libzmq 4.3.4 forgot LONG get a proper long header", () => {
    assert.deepEqual(encodeSubscribe(Buffer.alloc(245)).subarray(0, 2), hex("04 ff"));
    for (const size of [246, 250, 255]) {
      const frame = encodeSubscribe(Buffer.alloc(size));
      assert.equal(frame[0], 0x06, `topic of ${size}`);
      assert.equal(frame.readBigUInt64BE(1), BigInt(10 + size));
    }
    assert.deepEqual(encodeCancel(Buffer.alloc(248)).subarray(0, 2), hex("04 ff"));
    assert.equal(encodeCancel(Buffer.alloc(249))[0], 0x06);
  });

  it("PING's TTL is sent in tenths of a second, floored and capped", () => {
    const ttl = (ms: number): number => parsePing(parseCommand(bodyOf(encodePing(ms))).data).ttlMs;
    assert.equal(ttl(0), 0);
    assert.equal(ttl(99), 0);
    assert.equal(ttl(1599), 1500);
    assert.equal(ttl(-5), 0);
    assert.equal(ttl(6_553_500), 6_553_500);
    assert.equal(ttl(10_000_000), 6_553_500);
  });

  it("PONG echoes at most 16 bytes of context", () => {
    const context = patterned(20, 1);
    const pong = parseCommand(bodyOf(encodePong(context)));
    assert.equal(pong.name, "PONG");
    assert.deepEqual(pong.data, context.subarray(0, 16));
    assert.deepEqual(parseCommand(bodyOf(encodePong(new Uint8Array(0)))).data, Buffer.alloc(0));
  });

  it("ERROR reasons round-trip and are cut at 255 bytes", () => {
    const reason = (text: string): string => parseError(parseCommand(bodyOf(encodeError(text))).data);
    assert.equal(reason(""), "");
    assert.equal(reason("Invalid socket type"), "Invalid socket type");
    assert.equal(reason("r".repeat(300)), "r".repeat(255));
  });

  it("encodeGreeting writes as-server when asked and refuses invalid mechanism names", () => {
    assert.equal(encodeGreeting("PLAIN", true)[32], 1);
    assert.equal(encodeGreeting("PLAIN")[32], 0);
    for (const bad of ["", "null", "A".repeat(21), "NUL L"]) {
      assert.throws(() => encodeGreeting(bad), RangeError, JSON.stringify(bad));
    }
  });

  it("READY puts exact-case Socket-Type first, then Identity, then extras", () => {
    const frame = encodeReady("ROUTER", ascii("id"), [["X-App", ascii("1")]]);
    const props = parseMetadata(parseCommand(bodyOf(frame)).data);
    assert.deepEqual(
      props.map(([n, v]) => [n, v.toString()]),
      [["Socket-Type", "ROUTER"], ["Identity", "id"], ["X-App", "1"]],
    );
  });

  it("metadata names outside A-Z a-z 0-9 - _ . + (or empty, or over 255) are refused", () => {
    for (const bad of ["", "has space", "a:b", "x".repeat(256), "é"]) {
      assert.throws(() => encodeMetadata([[bad, Buffer.alloc(0)]]), RangeError, JSON.stringify(bad));
    }
  });

  it("metadata round-trips: names, order, empty and binary values", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.+-]{1,20}$/);
    const value = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 6 }), (props) => {
        assert.deepEqual(parseMetadata(encodeMetadata(props)), props);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe("round trip", () => {
  const sizes = [0, 1, 255, 256, COPY_THRESHOLD, COPY_THRESHOLD + 1, 70_000];
  const body = fc.oneof(
    fc.tuple(fc.constantFrom(...sizes), fc.nat(255)).map(([n, s]) => patterned(n, s)),
    fc.uint8Array({ maxLength: 300 }),
  );
  const message = fc.array(body, { minLength: 1, maxLength: 5 });

  it("random messages, encoded with random batch cuts and decoded with random chunking, come back equal", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(message, fc.boolean()), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (messages, cutSeeds) => {
          const encoder = new FrameEncoder();
          const chunks: Buffer[] = [];
          const expected: Array<{ flags: number; body: Buffer }> = [];
          for (const [frames, takeAfter] of messages) {
            frames.forEach((b, i) => {
              const more = i < frames.length - 1;
              encoder.writeFrame(b, more);
              expected.push({ flags: more ? FLAG_MORE : 0, body: Buffer.from(b) });
            });
            if (takeAfter) chunks.push(...encoder.take());
          }
          chunks.push(...encoder.take());
          const stream = Buffer.concat(chunks);
          const cuts = cutSeeds.map((s) => s % (stream.length + 1));
          const result = decode(chunksAt(stream, cuts));
          assert.equal(result.error, undefined);
          assert.deepEqual(result.recorder.frames, expected);
        },
      ),
      { numRuns: 150, seed: 20240601 },
    );
  });

  it("encodeFrame agrees with FrameEncoder and decodes back", () => {
    fc.assert(
      fc.property(body, fc.boolean(), cutsFor(400), (b, more, cuts) => {
        const frame = encodeFrame(b, more);
        const encoder = new FrameEncoder();
        encoder.writeFrame(b, more);
        assert.deepEqual(Buffer.concat(encoder.take()), frame);
        const result = decode(chunksAt(frame, cuts));
        assert.deepEqual(result.recorder.frames, [{ flags: more ? FLAG_MORE : 0, body: Buffer.from(b) }]);
      }),
      { numRuns: 100, seed: 3 },
    );
  });
});
