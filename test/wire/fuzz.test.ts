/**
 * Hostile input: random and mutated byte streams in random chunks, and random
 * command bodies. The decoder and parsers may refuse input only with a
 * ProtocolError, never deliver a frame over the limit, and never gather more
 * than the limit for one frame.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";
import {
  FrameDecoder,
  encodeCommand,
  encodeFrame,
  encodeGreeting,
  encodeMetadata,
  encodePing,
  encodeReady,
  encodeSubscribe,
  getProperty,
  parseCommand,
  parseError,
  parseGreeting,
  parseMetadata,
  parsePing,
} from "../../src/wire/index.js";
import { assertProtocolError, chunksAt, decode, Recorder, thrown } from "./support.js";

const MAX = 600;
const GREETING = encodeGreeting("NULL");

/** Bytes biased towards flag values and small sizes, where the decoder branches. */
const interestingByte = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xff, 0x7f) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const randomBytes = (maxLength: number): fc.Arbitrary<Buffer> =>
  fc.array(interestingByte, { maxLength }).map((a) => Buffer.from(a));

/** A valid stream body: data frames (short, long, empty) and commands. */
const validFrame = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 700 }), fc.boolean()).map(([n, more]) => encodeFrame(Buffer.alloc(n, n & 0xff), more)),
  fc.constant(encodeReady("DEALER", Buffer.alloc(0))),
  fc.integer({ min: 0, max: 300 }).map((n) => encodeSubscribe(Buffer.alloc(n, 0x74))),
  fc.constant(encodePing(1500, Buffer.from("ctx"))),
);

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "insert"; at: number; bytes: number[] }
  | { kind: "delete"; at: number; count: number }
  | { kind: "truncate"; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.array(interestingByte, { minLength: 1, maxLength: 9 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 9 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

function mutate(stream: Buffer, mutations: readonly Mutation[]): Buffer {
  let s = Buffer.from(stream);
  for (const m of mutations) {
    const at = s.length === 0 ? 0 : m.at % (s.length + 1);
    if (m.kind === "flip" && at < s.length) s[at] = s[at]! ^ (1 << m.bit);
    else if (m.kind === "insert") s = Buffer.concat([s.subarray(0, at), Buffer.from(m.bytes), s.subarray(at)]);
    else if (m.kind === "delete") s = Buffer.concat([s.subarray(0, at), s.subarray(at + m.count)]);
    else if (m.kind === "truncate") s = s.subarray(0, at);
  }
  return s;
}

/** Bytes the decoder holds for a frame it is still gathering. */
function gathered(decoder: FrameDecoder): number {
  return decoder.bufferedBytes;
}

/**
 * Feeds every chunk (including after a failure) and checks the invariants:
 * only ProtocolError, no frame over the limit, nothing delivered after a
 * failure, and a partial body never larger than the limit.
 */
function feedHostile(chunks: readonly Buffer[], greeting: boolean, maxFrameSize: number): void {
  const recorder = new Recorder();
  const decoder = new FrameDecoder(recorder, maxFrameSize, greeting);
  let failed = false;
  for (const chunk of [...chunks, Buffer.from([0, 1, 0x61])]) {
    const wasFailed = failed;
    const before = recorder.events.length;
    try {
      decoder.push(chunk);
    } catch (error) {
      assert.equal(failed, false, "a stopped decoder does not throw again");
      assertProtocolError(error);
      failed = true;
    }
    if (failed) assert.equal(decoder.stopped, true);
    if (wasFailed) assert.equal(recorder.events.length, before, "nothing is delivered after a failure");
    if (maxFrameSize >= 0) assert.ok(gathered(decoder) <= maxFrameSize, "partial body within the limit");
  }
  assert.ok(recorder.greetings.length <= 1);
  if (maxFrameSize >= 0) {
    for (const f of recorder.frames) assert.ok(f.body.length <= maxFrameSize, "frame within the limit");
  }
}

const options = (seed: number, numRuns = 300) => ({ seed, numRuns });

describe("decoder on hostile streams", () => {
  it("random bytes, starting at a frame header: only ProtocolError, frames within the limit", () => {
    fc.assert(
      fc.property(randomBytes(1500), fc.array(fc.nat(1500), { maxLength: 20 }), (bytes, cuts) => {
        feedHostile(chunksAt(bytes, cuts), false, MAX);
        feedHostile(chunksAt(bytes, cuts), false, -1);
      }),
      options(1, 1000),
    );
  });

  it("random bytes, starting at the greeting: only ProtocolError", () => {
    fc.assert(
      fc.property(randomBytes(200), fc.array(fc.nat(200), { maxLength: 10 }), (bytes, cuts) => {
        feedHostile(chunksAt(bytes, cuts), true, MAX);
      }),
      options(2),
    );
  });

  it("a valid greeting followed by random bytes: only ProtocolError, frames within the limit", () => {
    fc.assert(
      fc.property(randomBytes(1500), fc.array(fc.nat(1600), { maxLength: 20 }), (bytes, cuts) => {
        const stream = Buffer.concat([GREETING, bytes]);
        feedHostile(chunksAt(stream, cuts), true, MAX);
      }),
      options(3, 1000),
    );
  });

  it("valid streams with bit flips, insertions, deletions and truncation: only ProtocolError", () => {
    fc.assert(
      fc.property(
        fc.array(validFrame, { maxLength: 8 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        (frames, mutations, cutSeeds, unlimited) => {
          const stream = mutate(Buffer.concat([GREETING, ...frames]), mutations);
          const chunks = chunksAt(stream, cutSeeds.map((c) => c % (stream.length + 1)));
          feedHostile(chunks, true, unlimited ? -1 : MAX);
        },
      ),
      options(4, 1500),
    );
  });

  it("a truncated valid stream is not an error: it delivers a prefix of the frames and waits", () => {
    fc.assert(
      fc.property(fc.array(validFrame, { maxLength: 6 }), fc.nat(), fc.array(fc.nat(), { maxLength: 10 }), (frames, cut, cutSeeds) => {
        const whole = Buffer.concat([GREETING, ...frames]);
        const all = decode([whole], { greeting: true, maxFrameSize: 1000 });
        assert.equal(all.error, undefined);
        const stream = whole.subarray(0, cut % (whole.length + 1));
        const part = decode(chunksAt(stream, cutSeeds.map((c) => c % (stream.length + 1))), {
          greeting: true,
          maxFrameSize: 1000,
        });
        assert.equal(part.error, undefined);
        assert.equal(part.decoder.stopped, false);
        assert.deepEqual(part.recorder.frames, all.recorder.frames.slice(0, part.recorder.frames.length));
      }),
      options(5),
    );
  });
});

describe("decoder memory under a trickling peer", () => {
  it("gathering a body from 1-byte chunks costs memory in proportion to the body", () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const size = 256 * 1024;
    const header = Buffer.from([0x02, 0, 0, 0, 0, 0, 0, 0, 0]);
    header.writeUInt32BE(size, 5);
    let delivered = 0;
    const decoder = new FrameDecoder({ onGreeting() {}, onFrame: (body) => void (delivered = body.length) }, -1, false);
    decoder.push(header);
    gc();
    const before = process.memoryUsage();
    // A hostile or slow peer: every read yields one byte (each its own buffer, as socket reads are).
    for (let i = 0; i < size - 1; i++) decoder.push(Buffer.alloc(1, 0x41));
    gc();
    const after = process.memoryUsage();
    const grown = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    assert.ok(grown < 8 * size, `holding ${size - 1} body bytes took ${grown} bytes (${(grown / size).toFixed(0)}x)`);
    decoder.push(Buffer.alloc(1, 0x41));
    assert.equal(delivered, size);
  });
});

/** Calls `fn`; it may return or throw a ProtocolError, nothing else. */
function onlyProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    assertProtocolError(error);
  }
}

describe("parsers on hostile input", () => {
  it("parseCommand, parseMetadata, parseError, parsePing: only ProtocolError", () => {
    fc.assert(
      fc.property(randomBytes(120), (bytes) => {
        onlyProtocolError(() => parseCommand(bytes));
        onlyProtocolError(() => getProperty(parseMetadata(bytes), "Socket-Type"));
        onlyProtocolError(() => parseError(bytes));
        onlyProtocolError(() => parsePing(bytes));
        onlyProtocolError(() => {
          const command = parseCommand(bytes);
          parseMetadata(command.data);
        });
      }),
      options(6, 1000),
    );
  });

  it("parseMetadata on mutated valid metadata: only ProtocolError, values stay inside the input", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.+-]{1,12}$/);
    const props = fc.array(fc.tuple(name, fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u))), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(props, fc.array(mutation, { minLength: 1, maxLength: 3 }), (properties, mutations) => {
        const data = mutate(encodeMetadata(properties), mutations);
        onlyProtocolError(() => {
          const parsed = parseMetadata(data);
          const size = parsed.reduce((n, [k, v]) => n + 1 + k.length + 4 + v.length, 0);
          assert.equal(size, data.length, "properties account for every byte");
        });
      }),
      options(7, 500),
    );
  });

  it("parseGreeting on random 64-byte input and on short input: only ProtocolError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.array(mutation, { maxLength: 3 }), (random, mutations) => {
        onlyProtocolError(() => parseGreeting(Buffer.from(random)));
        onlyProtocolError(() => parseGreeting(mutate(GREETING, mutations)));
      }),
      options(8, 500),
    );
  });

  it("malformed bodies are refused with the code of what is wrong", () => {
    const cases: Array<[() => unknown, string]> = [
      [() => parseCommand(encodeCommand("READY").subarray(2, 5)), "ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED"],
      [() => parseCommand(Buffer.alloc(0)), "ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED"],
      [() => parseCommand(Buffer.from([0, 0x41])), "ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED"],
      [() => parseMetadata(Buffer.concat([encodeMetadata([["A", Buffer.from("b")]]), Buffer.from([1])])), "ERR_ZMTP_INVALID_METADATA"],
      [() => parseMetadata(Buffer.from([0, 0, 0, 0, 0])), "ERR_ZMTP_INVALID_METADATA"],
      [() => parseMetadata(Buffer.from([1, 0x20, 0, 0, 0, 0])), "ERR_ZMTP_INVALID_METADATA"],
      [() => parseMetadata(Buffer.from([1, 0x41, 0, 0, 0, 2, 0x62])), "ERR_ZMTP_INVALID_METADATA"],
      [() => parseError(Buffer.alloc(0)), "ERR_ZMTP_MALFORMED_COMMAND_ERROR"],
      [() => parseError(Buffer.from([4, 0x34, 0x30, 0x30])), "ERR_ZMTP_MALFORMED_COMMAND_ERROR"],
      [() => parsePing(Buffer.from([0])), "ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED"],
      [() => parseGreeting(GREETING.subarray(0, 63)), "ERR_ZMTP_UNSPECIFIED"],
    ];
    for (const [fn, code] of cases) assertProtocolError(thrown(fn), code);
  });
});
