/**
 * Every vector of test/vectors/zmtp.json against the decoder (any chunking),
 * the encoders (exact bytes for what we send) and the command parsers.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  FLAG_COMMAND,
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
  getProperty,
  legacySubscription,
  parseCommand,
  parseError,
  parseGreeting,
  parseMetadata,
  parsePing,
  type Metadata,
} from "../../src/wire/index.js";
import {
  ascii,
  byteByByte,
  chunksAt,
  cutsFor,
  decode,
  hex,
  loadVectors,
  type Decoded,
  type Vector,
} from "./support.js";

const vectors = loadVectors();
const byName = new Map(vectors.map((v) => [v.name, v]));
function vector(name: string): Vector {
  const v = byName.get(name);
  assert.ok(v, `vector ${name} is missing`);
  return v;
}
const G1 = hex(vector("G1").hex);

/** The frames a vector must decode to, as the decoder reports them. */
function expectedFrames(v: Vector): Array<{ flags: number; body: Buffer }> {
  return (v.frames ?? []).map((f) => ({
    flags: (f.more ? FLAG_MORE : 0) | (f.command ? FLAG_COMMAND : 0),
    body: hex(f.body),
  }));
}

function checkDecoded(v: Vector, result: Decoded): void {
  assert.equal(result.error, undefined, `${v.name}: ${String(result.error)}`);
  if (v.kind === "greeting") {
    const g = v.greeting!;
    assert.deepEqual(result.recorder.greetings, [
      { major: g.major, minor: g.minor, mechanism: g.mechanism, asServer: g.asServer },
    ]);
    assert.deepEqual(result.recorder.frames, []);
  } else if (v.kind === "partial-greeting") {
    assert.deepEqual(result.recorder.greetings, []);
    assert.deepEqual(result.recorder.frames, []);
    assert.equal(result.decoder.stopped, false);
  } else {
    assert.deepEqual(result.recorder.frames, expectedFrames(v));
  }
}

function commandOf(v: Vector): Buffer {
  const frame = v.frames?.[0];
  assert.ok(frame?.command, `${v.name} is not a command`);
  return hex(frame.body);
}

/** What the encoders produce for a vector we send. */
function encodeVector(v: Vector): Buffer {
  if (v.kind === "greeting") return encodeGreeting(v.greeting!.mechanism, v.greeting!.asServer);
  const c = v.command;
  if (c === undefined) {
    const encoder = new FrameEncoder();
    for (const f of v.frames!) encoder.writeFrame(hex(f.body), f.more);
    return Buffer.concat(encoder.take());
  }
  const props: Metadata = (c.properties ?? []).map((p) => [p.name, ascii(p.value)] as const);
  switch (c.name) {
    case "READY": {
      const identity = props.find(([n]) => n === "Identity")?.[1];
      const extra = props.filter(([n]) => n !== "Socket-Type" && n !== "Identity");
      return encodeReady(c.properties![0]!.value, identity, extra);
    }
    case "INITIATE":
      return encodeCommand("INITIATE", encodeMetadata(props));
    case "ERROR":
      return encodeError(c.reason!);
    case "PING":
      return encodePing(c.ttlDeciseconds! * 100, hex(c.context!));
    case "PONG":
      return encodePong(hex(c.context!));
    case "SUBSCRIBE":
      return encodeSubscribe(hex(c.topic!));
    case "CANCEL":
      return encodeCancel(hex(c.topic!));
    default:
      return encodeCommand(c.name, hex(c.data));
  }
}

describe("vector file", () => {
  it("holds the greeting, READY, ERROR, message, subscription, heartbeat and PLAIN vectors", () => {
    const names = ["G1", "G2", "G3", "G4", "G5", "E1", "M1", "M2", "M3", "M4", "H1", "H2", "H3", "H4", "P5", "P6"];
    for (let i = 1; i <= 13; i++) names.push(`R${i}`);
    for (let i = 1; i <= 8; i++) names.push(`S${i}`);
    for (const name of names) assert.ok(byName.has(name), name);
    assert.equal(byName.size, vectors.length, "names are unique");
  });

  it("frame lists describe the hex exactly (flags, size field, body)", () => {
    for (const v of vectors.filter((x) => x.kind === "frames")) {
      const parts: Buffer[] = [];
      for (const f of v.frames!) {
        assert.equal(f.size * 2, f.body.length, v.name);
        const header = f.long ? Buffer.alloc(9) : Buffer.from([f.flags, f.size]);
        if (f.long) {
          header[0] = f.flags;
          header.writeBigUInt64BE(BigInt(f.size), 1);
        }
        parts.push(header, hex(f.body));
      }
      assert.equal(Buffer.concat(parts).toString("hex"), v.hex, v.name);
    }
  });
});

for (const v of vectors) {
  describe(`vector ${v.name}`, () => {
    const bytes = hex(v.hex);
    const greeting = v.kind !== "frames";

    it("decodes when fed all at once", () => {
      checkDecoded(v, decode([bytes], { greeting }));
    });

    it("decodes when fed byte by byte", () => {
      checkDecoded(v, decode(byteByByte(bytes), { greeting }));
    });

    it("decodes the same under any chunking", () => {
      fc.assert(
        fc.property(cutsFor(bytes.length), (cuts) => {
          checkDecoded(v, decode(chunksAt(bytes, cuts), { greeting }));
        }),
        { numRuns: 60, seed: 0x5eed },
      );
    });

    if (v.kind === "frames") {
      it("decodes right behind a greeting in the same chunk", () => {
        const result = decode([Buffer.concat([G1, bytes])], { greeting: true });
        assert.equal(result.error, undefined);
        assert.deepEqual(result.recorder.events, ["greeting", ...v.frames!.map(() => "frame")]);
        assert.deepEqual(result.recorder.frames, expectedFrames(v));
      });
    }

    if (v.weSend) {
      it("is produced byte for byte by our encoder", () => {
        assert.equal(encodeVector(v).toString("hex"), v.hex);
        if (v.command) assert.equal(encodeCommand(v.command.name, hex(v.command.data)).toString("hex"), v.hex);
        if (v.frames?.length === 1 && !v.frames[0]!.command) {
          assert.equal(encodeFrame(hex(v.frames[0]!.body), v.frames[0]!.more).toString("hex"), v.hex);
        }
      });
    }

    if (v.greeting) {
      it("is read by parseGreeting (padding and as-server ignored)", () => {
        const g = v.greeting!;
        assert.equal(bytes.subarray(1, 9).toString("hex"), g.padding);
        assert.deepEqual(parseGreeting(bytes), {
          major: g.major,
          minor: g.minor,
          mechanism: g.mechanism,
          asServer: g.asServer,
        });
      });
    }

    if (v.command) {
      it("is read by the command parsers", () => {
        const c = v.command!;
        const command = parseCommand(commandOf(v));
        assert.equal(command.name, c.name);
        assert.equal(command.data.toString("hex"), c.data);
        if (c.properties) {
          const props = parseMetadata(command.data);
          assert.deepEqual(
            props.map(([n, value]) => ({ name: n, value: value.toString("latin1") })),
            c.properties,
          );
          for (const p of c.properties) {
            // The RFC says names match case-insensitively.
            for (const spelling of [p.name, p.name.toLowerCase(), p.name.toUpperCase()]) {
              assert.equal(getProperty(props, spelling)?.toString("latin1"), p.value, spelling);
            }
          }
        }
        if (c.reason !== undefined) assert.equal(parseError(command.data), c.reason);
        if (c.name === "PING") {
          const ping = parsePing(command.data);
          assert.equal(ping.ttlMs, c.ttlDeciseconds! * 100);
          assert.equal(ping.context.toString("hex"), c.context);
        }
        if (c.name === "PONG") assert.equal(command.data.toString("hex"), c.context);
        if (c.topic !== undefined) assert.equal(command.data.toString("hex"), c.topic);
      });
    }

    if (v.subscription) {
      it("is the legacy subscription message body", () => {
        const s = v.subscription!;
        const body = legacySubscription(s.subscribe, hex(s.topic));
        assert.equal(body.toString("hex"), v.frames![0]!.body);
        assert.equal(encodeFrame(body).toString("hex"), v.hex);
      });
    }
  });
}

describe("vectors in one stream", () => {
  const frameVectors = vectors.filter((v) => v.kind === "frames");
  const stream = Buffer.concat([G1, ...frameVectors.map((v) => hex(v.hex))]);
  const expected = frameVectors.flatMap(expectedFrames);

  it("a greeting followed by every frame vector decodes to every frame, in order, under any chunking", () => {
    fc.assert(
      fc.property(cutsFor(stream.length, 64), (cuts) => {
        const result = decode(chunksAt(stream, cuts), { greeting: true });
        assert.equal(result.error, undefined);
        assert.equal(result.recorder.greetings.length, 1);
        assert.deepEqual(result.recorder.frames, expected);
      }),
      { numRuns: 100, seed: 42 },
    );
  });
});

describe("libzmq quirks", () => {
  it("P6: libzmq's '5E RROR' is read as ERROR with its reason", () => {
    const command = parseCommand(commandOf(vector("P6")));
    assert.equal(command.name, "ERROR");
    assert.equal(parseError(command.data), "400");
  });

  it("we send ERROR in the RFC spelling (P5), not libzmq's (P6)", () => {
    assert.equal(encodeError("400").toString("hex"), vector("P5").hex);
    assert.notEqual(encodeError("400").toString("hex"), vector("P6").hex);
  });

  it("S8: the SUBSCRIBE written with an 8-byte size but no LONG flag keeps the stream in sync", () => {
    const s8 = hex(vector("S8").hex);
    const m2 = hex(vector("M2").hex);
    const result = decode(byteByByte(Buffer.concat([s8, m2, s8])));
    assert.equal(result.error, undefined);
    const [first, x, y, last] = result.recorder.frames;
    assert.equal(result.recorder.frames.length, 4);
    for (const f of [first!, last!]) {
      assert.equal(f.flags, FLAG_COMMAND);
      const command = parseCommand(f.body);
      assert.equal(command.name, "SUBSCRIBE");
      assert.deepEqual(command.data, Buffer.alloc(250, "t"));
    }
    assert.deepEqual([x!.body.toString(), y!.body.toString()], ["x", "y"]);
  });

  it("S8's topic is sent by us with the LONG flag set (the corrected form)", () => {
    const s8 = hex(vector("S8").hex);
    const ours = encodeSubscribe(Buffer.alloc(250, "t"));
    assert.equal(ours[0], 0x06);
    assert.deepEqual(ours.subarray(1), s8.subarray(1));
  });

  it("G2, G3: greetings with other padding are accepted; ours pads like libzmq (G1)", () => {
    for (const name of ["G2", "G3"]) {
      assert.equal(parseGreeting(hex(vector(name).hex)).mechanism, "NULL");
    }
    assert.deepEqual(encodeGreeting(), G1);
  });

  it("property names keep their wire spelling and are found in any case", () => {
    const data = encodeMetadata([["socket-type", ascii("PUB")], ["X-Custom", ascii("v")]]);
    const props = parseMetadata(data);
    assert.deepEqual(props.map(([n]) => n), ["socket-type", "X-Custom"]);
    assert.equal(getProperty(props, "Socket-Type")?.toString(), "PUB");
    assert.equal(getProperty(props, "x-custom")?.toString(), "v");
    assert.equal(getProperty(props, "Identity"), undefined);
  });

  it("an empty Identity is present and empty, not missing", () => {
    const props = parseMetadata(parseCommand(commandOf(vector("R1"))).data);
    assert.deepEqual(getProperty(props, "Identity"), Buffer.alloc(0));
    const rep = parseMetadata(parseCommand(commandOf(vector("R5"))).data);
    assert.equal(getProperty(rep, "Identity"), undefined);
  });
});
