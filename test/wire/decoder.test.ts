/**
 * The incremental decoder, byte by byte: staged greeting checks, frame
 * headers at the short/long boundary, limits, flag rules, zero-copy views
 * and stopping.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  FLAG_COMMAND,
  FLAG_MORE,
  FrameDecoder,
  encodeFrame,
  encodeGreeting,
  encodeReady,
  type Greeting,
} from "../../src/wire/index.js";
import { assertProtocolError, ascii, byteByByte, decode, hex, Recorder } from "./support.js";

const GREETING = encodeGreeting("NULL");

/** Feeds a stream one byte at a time; returns the 1-based index of the byte that threw. */
function failingByte(bytes: Buffer): { at: number; error: unknown } {
  const decoder = new FrameDecoder(new Recorder(), -1, true);
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.push(bytes.subarray(i, i + 1));
    } catch (error) {
      return { at: i + 1, error };
    }
  }
  return { at: 0, error: undefined };
}

function greetingWith(changes: Record<number, number>): Buffer {
  const g = Buffer.from(GREETING);
  for (const [offset, value] of Object.entries(changes)) g[Number(offset)] = value;
  return g;
}

describe("greeting, received in stages", () => {
  it("a first byte other than FF is refused after 1 byte", () => {
    for (const first of [0x00, 0x01, 0x47 /* 'G' of an HTTP probe */, 0xfe]) {
      const { at, error } = failingByte(greetingWith({ 0: first }));
      assert.equal(at, 1);
      assertProtocolError(error, "ERR_ZMTP_BAD_SIGNATURE");
    }
  });

  it("a signature with bit 0 of byte 9 clear (ZMTP/1.0) is refused after 10 bytes", () => {
    for (const b9 of [0x00, 0x7e, 0xfe]) {
      const { at, error } = failingByte(greetingWith({ 9: b9 }));
      assert.equal(at, 10);
      assertProtocolError(error, "ERR_ZMTP_BAD_SIGNATURE");
    }
  });

  it("bit 0 of byte 9 is all that is checked there (FF accepted)", () => {
    const result = decode(byteByByte(greetingWith({ 9: 0xff })), { greeting: true });
    assert.equal(result.error, undefined);
    assert.equal(result.recorder.greetings.length, 1);
  });

  it("a major version below 3 is refused after 11 bytes", () => {
    for (const major of [0, 1, 2]) {
      const { at, error } = failingByte(greetingWith({ 10: major }));
      assert.equal(at, 11);
      assertProtocolError(error, "ERR_ZMTP_UNSUPPORTED_VERSION");
    }
  });

  it("an old peer that sends only 11 bytes is refused without waiting for 64", () => {
    const v2 = hex("ff 00 00 00 00 00 00 00 01 7f 01");
    const result = decode([v2], { greeting: true });
    assertProtocolError(result.error, "ERR_ZMTP_UNSUPPORTED_VERSION");
  });

  it("major 3 minor 0 is reported as 3.0", () => {
    const result = decode(byteByByte(greetingWith({ 11: 0 })), { greeting: true });
    assert.deepEqual(result.recorder.greetings[0], { major: 3, minor: 0, mechanism: "NULL", asServer: false });
  });

  it("a major version of 4 or more is accepted and handled as 3.1", () => {
    for (const [major, minor] of [[4, 0], [4, 7], [255, 0]] as const) {
      const result = decode(byteByByte(greetingWith({ 10: major, 11: minor })), { greeting: true });
      assert.equal(result.error, undefined);
      assert.equal(result.recorder.greetings[0]?.minor, 1);
      assert.equal(result.recorder.greetings[0]?.major, major);
    }
  });

  it("padding (bytes 1-8), as-server and filler are not checked", () => {
    const odd = greetingWith({ 1: 0xaa, 5: 0x55, 8: 0x09, 32: 0x01, 40: 0x7f, 63: 0xff });
    const result = decode([odd], { greeting: true });
    assert.equal(result.error, undefined);
    assert.deepEqual(result.recorder.greetings[0], { major: 3, minor: 1, mechanism: "NULL", asServer: true });
  });

  it("a mechanism that is not zero padded is refused after 64 bytes", () => {
    const { at, error } = failingByte(greetingWith({ 20: 0x58 }));
    assert.equal(at, 64);
    assertProtocolError(error, "ERR_ZMTP_MECHANISM_MISMATCH");
  });

  it("a mechanism using all 20 bytes is read whole", () => {
    const g = encodeGreeting("ABCDEFGHIJ0123456789");
    const result = decode([g], { greeting: true });
    assert.equal(result.recorder.greetings[0]?.mechanism, "ABCDEFGHIJ0123456789");
  });

  it("nothing is reported before the 64th byte, and the greeting exactly once", () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder, -1, true);
    for (let i = 0; i < 63; i++) decoder.push(GREETING.subarray(i, i + 1));
    assert.deepEqual(recorder.events, []);
    decoder.push(GREETING.subarray(63));
    assert.deepEqual(recorder.events, ["greeting"]);
  });

  it("the greeting is reported before any frame that arrived with it", () => {
    let framesAtGreeting = -1;
    const recorder = new (class extends Recorder {
      override onGreeting(g: Greeting): void {
        framesAtGreeting = this.frames.length;
        super.onGreeting(g);
      }
    })();
    const decoder = new FrameDecoder(recorder, -1, true);
    decoder.push(Buffer.concat([GREETING, encodeReady("DEALER", Buffer.alloc(0)), encodeFrame(ascii("hi"))]));
    assert.equal(framesAtGreeting, 0);
    assert.deepEqual(recorder.events, ["greeting", "frame", "frame"]);
  });
});

describe("frames", () => {
  it("255-byte bodies use the short header and 256-byte bodies the long one", () => {
    const b255 = Buffer.alloc(255, 1);
    const b256 = Buffer.alloc(256, 2);
    const short = encodeFrame(b255);
    const long = encodeFrame(b256, true);
    assert.deepEqual(short.subarray(0, 2), hex("00 ff"));
    assert.deepEqual(long.subarray(0, 9), hex("03 00 00 00 00 00 00 01 00"));
    const result = decode(byteByByte(Buffer.concat([long, short])));
    assert.equal(result.error, undefined);
    assert.deepEqual(result.recorder.frames, [
      { flags: FLAG_MORE, body: b256 },
      { flags: 0, body: b255 },
    ]);
  });

  it("the long form is accepted for small sizes too", () => {
    const result = decode(byteByByte(hex("02 00 00 00 00 00 00 00 03 61 62 63 02 00 00 00 00 00 00 00 00")));
    assert.deepEqual(result.recorder.frames, [
      { flags: 0, body: ascii("abc") },
      { flags: 0, body: Buffer.alloc(0) },
    ]);
  });

  it("zero-length frames are delivered, including as the first and last frame of a message", () => {
    const result = decode(byteByByte(hex("01 00 01 00 00 00")));
    assert.deepEqual(result.recorder.frames, [
      { flags: FLAG_MORE, body: Buffer.alloc(0) },
      { flags: FLAG_MORE, body: Buffer.alloc(0) },
      { flags: 0, body: Buffer.alloc(0) },
    ]);
  });

  it("multi-frame messages carry MORE on all frames but the last; commands carry COMMAND", () => {
    const result = decode([hex("01 01 61 01 01 62 00 01 63 04 07 04 50 49 4e 47 00 00")]);
    assert.deepEqual(
      result.recorder.frames.map((f) => f.flags),
      [FLAG_MORE, FLAG_MORE, 0, FLAG_COMMAND],
    );
  });

  it("reserved flag bits are ignored and not reported", () => {
    const result = decode([hex("f9 01 61 f8 01 62")]);
    assert.equal(result.error, undefined);
    assert.deepEqual(result.recorder.frames, [
      { flags: FLAG_MORE, body: ascii("a") },
      { flags: 0, body: ascii("b") },
    ]);
  });

  it("a body split across many chunks is delivered once, whole", () => {
    const body = Buffer.alloc(5000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const stream = encodeFrame(body);
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder, -1, false);
    for (let i = 0; i < stream.length; i += 97) {
      decoder.push(stream.subarray(i, i + 97));
      if (i + 97 < stream.length) assert.equal(recorder.frames.length, 0);
    }
    assert.equal(recorder.frames.length, 1);
    assert.deepEqual(recorder.frames[0]?.body, body);
  });

  it("a body that lies inside one chunk is a view of that chunk, not a copy", () => {
    const chunk = Buffer.alloc(2 + 100 + 9 + 1000); // not from the shared pool
    const bodies: Buffer[] = [];
    const decoder = new FrameDecoder({ onGreeting() {}, onFrame: (body) => bodies.push(body) }, -1, false);
    encodeFrame(Buffer.alloc(100, 0x61), true).copy(chunk, 0);
    encodeFrame(Buffer.alloc(1000, 0x62)).copy(chunk, 102);
    decoder.push(chunk);
    assert.equal(bodies.length, 2);
    assert.equal(bodies[0]!.buffer, chunk.buffer);
    assert.equal(bodies[0]!.byteOffset, chunk.byteOffset + 2);
    assert.equal(bodies[1]!.buffer, chunk.buffer);
    assert.equal(bodies[1]!.byteOffset, chunk.byteOffset + 111);
    assert.equal(bodies[1]!.length, 1000);
  });

  it("a body that arrives whole in the chunk after its header is a view of that chunk", () => {
    const bodies: Buffer[] = [];
    const decoder = new FrameDecoder({ onGreeting() {}, onFrame: (body) => bodies.push(body) }, -1, false);
    decoder.push(hex("02 00 00 00 00 00 00 01 2c"));
    const body = Buffer.alloc(300, 0x41);
    decoder.push(body);
    assert.equal(bodies.length, 1);
    assert.equal(bodies[0]!.buffer, body.buffer);
    assert.deepEqual(bodies[0], body);
  });

  it("without a greeting stage, a decoder starts at the first frame header", () => {
    const result = decode([hex("00 05 68 65 6c 6c 6f")], { greeting: false });
    assert.deepEqual(result.recorder.frames, [{ flags: 0, body: ascii("hello") }]);
  });

  it("empty chunks are harmless in every state", () => {
    const stream = Buffer.concat([GREETING, hex("02 00 00 00 00 00 00 00 02 61 62")]);
    const chunks: Buffer[] = [];
    for (const b of byteByByte(stream)) chunks.push(Buffer.alloc(0), b);
    const result = decode(chunks, { greeting: true });
    assert.equal(result.error, undefined);
    assert.deepEqual(result.recorder.frames, [{ flags: 0, body: ascii("ab") }]);
  });
});

describe("limits and malformed frames", () => {
  it("a frame of exactly maxFrameSize is accepted, one byte more is refused from its header", () => {
    const ok = decode([encodeFrame(Buffer.alloc(1000))], { maxFrameSize: 1000 });
    assert.equal(ok.error, undefined);
    assert.equal(ok.recorder.frames[0]?.body.length, 1000);

    const tooBig = decode([hex("02 00 00 00 00 00 00 03 e9")], { maxFrameSize: 1000 });
    assertProtocolError(tooBig.error, "ERR_ZMTP_MESSAGE_TOO_LARGE");

    const shortTooBig = decode([hex("00 0b")], { maxFrameSize: 10 });
    assertProtocolError(shortTooBig.error, "ERR_ZMTP_MESSAGE_TOO_LARGE");
  });

  it("the limit applies to command frames too", () => {
    const result = decode([encodeReady("DEALER", Buffer.alloc(0))], { maxFrameSize: 10 });
    assertProtocolError(result.error, "ERR_ZMTP_MESSAGE_TOO_LARGE");
  });

  it("a header announcing 2^64-1 bytes is refused before any body byte, even with no limit", () => {
    for (const maxFrameSize of [-1, 64 * 1024 * 1024]) {
      const header = hex("02 ff ff ff ff ff ff ff ff");
      const { at, error } = (() => {
        const decoder = new FrameDecoder(new Recorder(), maxFrameSize, false);
        for (let i = 0; i < header.length; i++) {
          try {
            decoder.push(header.subarray(i, i + 1));
          } catch (e) {
            return { at: i + 1, error: e };
          }
        }
        return { at: 0, error: undefined };
      })();
      assert.equal(at, 9, "refused on the last header byte");
      assertProtocolError(error, "ERR_ZMTP_MESSAGE_TOO_LARGE");
    }
  });

  it("sizes above 2^53 are refused, not rounded", () => {
    const result = decode([hex("02 00 20 00 00 00 00 00 01")]);
    assertProtocolError(result.error, "ERR_ZMTP_MESSAGE_TOO_LARGE");
  });

  it("a command frame with MORE set is refused", () => {
    for (const frame of ["05 07 04 50 49 4e 47 00 00", "07 00 00 00 00 00 00 00 07 04 50 49 4e 47 00 00"]) {
      const result = decode(byteByByte(hex(frame)));
      assertProtocolError(result.error, "ERR_ZMTP_INVALID_FRAME");
      assert.deepEqual(result.recorder.frames, []);
    }
  });

  it("an empty command frame is refused", () => {
    for (const frame of ["06 00 00 00 00 00 00 00 00", "04 00 00 00 00 00 00 00 00"]) {
      const result = decode(byteByByte(hex(frame)));
      assertProtocolError(result.error, "ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED");
      assert.deepEqual(result.recorder.frames, []);
    }
  });

  it("after an error the decoder is stopped and ignores all further input", () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder, -1, false);
    decoder.push(hex("00 01 61"));
    assert.throws(() => decoder.push(hex("05 02 01 41")), { code: "ERR_ZMTP_INVALID_FRAME" });
    assert.equal(decoder.stopped, true);
    decoder.push(hex("00 01 62"));
    decoder.push(GREETING);
    assert.deepEqual(recorder.frames, [{ flags: 0, body: ascii("a") }]);
  });

  it("a rejected greeting stops the decoder too", () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder, -1, true);
    assert.throws(() => decoder.push(hex("00 05 68 65 6c 6c 6f")), { code: "ERR_ZMTP_BAD_SIGNATURE" });
    assert.equal(decoder.stopped, true);
    decoder.push(GREETING);
    assert.deepEqual(recorder.events, []);
  });
});

describe("stop()", () => {
  it("from inside onFrame, stops delivery of the rest of the chunk", () => {
    const seen: string[] = [];
    const decoder: FrameDecoder = new FrameDecoder(
      {
        onGreeting() {},
        onFrame(body) {
          seen.push(body.toString());
          if (body.toString() === "b") decoder.stop();
        },
      },
      -1,
      false,
    );
    decoder.push(hex("01 01 61 01 01 62 01 01 63 00 01 64"));
    decoder.push(hex("00 01 65"));
    assert.deepEqual(seen, ["a", "b"]);
    assert.equal(decoder.stopped, true);
  });

  it("from inside onFrame for a gathered body, stops delivery of the rest of the chunk", () => {
    const seen: number[] = [];
    const decoder: FrameDecoder = new FrameDecoder(
      {
        onGreeting() {},
        onFrame(body) {
          seen.push(body.length);
          decoder.stop();
        },
      },
      -1,
      false,
    );
    const stream = Buffer.concat([encodeFrame(Buffer.alloc(400)), encodeFrame(Buffer.alloc(3))]);
    decoder.push(stream.subarray(0, 100));
    decoder.push(stream.subarray(100));
    assert.deepEqual(seen, [400]);
  });

  it("from inside onGreeting, no frame of the same chunk is delivered", () => {
    const events: string[] = [];
    const decoder: FrameDecoder = new FrameDecoder(
      {
        onGreeting() {
          events.push("greeting");
          decoder.stop();
        },
        onFrame() {
          events.push("frame");
        },
      },
      -1,
      true,
    );
    decoder.push(Buffer.concat([GREETING, hex("00 01 61 00 01 62")]));
    assert.deepEqual(events, ["greeting"]);
  });

  it("called between chunks, drops a partly gathered frame", () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder, -1, false);
    decoder.push(hex("00 05 68 65"));
    decoder.stop();
    decoder.push(hex("6c 6c 6f"));
    assert.deepEqual(recorder.frames, []);
  });
});
