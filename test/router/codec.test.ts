// The Msg envelope: annotated vectors both ways (the same ones as
// docs/protocols/router.md, which this test checks), round trips, and
// hostile input, which is refused with EINVAL and nothing else.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encode } from "@msgpack/msgpack";
import { InvalidArgumentError, messaging } from "../../src/index.js";
import { encodeMsgFrame } from "../../src/router/codec.js";

const { Address, Msg, encodeMsg, decodeMsg } = messaging;
type Msg = messaging.Msg;
const T = { timeout: 60_000 };

/** Hex with `#` comments and spaces removed. */
const hex = (text: string): Buffer => Buffer.from(text.replace(/#.*$/gm, "").replace(/\s+/g, ""), "hex");

interface Vector {
  name: string;
  text: string;
  msg: () => Msg;
}

// The vectors, byte by byte. docs/protocols/router.md shows the same text.
const VECTORS: Vector[] = [
  {
    name: "request",
    text: `
01                                  # format 1
09                                  # flags: from (0x01) + contents (0x08)
00000001 00000002 00000010          # to 1:2:16
00000001 00000003 00000011          # from 1:3:17
00000000 00000005                   # id 5
00                                  # hops 0
0007 4144445f4f4e45                 # subject "ADD_ONE"
29                                  # contents: MessagePack 41
`,
    msg: () => new Msg(new Address(1, 2, 16), "ADD_ONE", 41, { from: new Address(1, 3, 17), id: 5 }),
  },
  {
    name: "reply",
    text: `
01                                  # format 1
0b                                  # flags: from + replyId (0x02) + contents
00000001 00000003 00000011          # to 1:3:17
00000001 00000002 00000010          # from 1:2:16
00000000 00000001                   # id 1
00000000 00000005                   # replyId 5
00                                  # hops 0
0007 4144445f4f4e45                 # subject "ADD_ONE"
2a                                  # contents: MessagePack 42
`,
    msg: () => new Msg(new Address(1, 3, 17), "ADD_ONE", 42, { from: new Address(1, 2, 16), id: 1, replyId: 5 }),
  },
  {
    name: "meta, no contents",
    text: `
01                                  # format 1
05                                  # flags: from + meta (0x04)
00000001 00000002 00000001          # to 1:2:1
00000001 00000003 00000011          # from 1:3:17
001fffff ffffffff                   # id 2^53 - 1
03                                  # hops 3
0004 50494e47                       # subject "PING"
0000000a 81a57472616365a27431       # meta: 10 bytes, MessagePack {"trace": "t1"}
`,
    msg: () =>
      new Msg(new Address(1, 2, 1), "PING", undefined, {
        from: new Address(1, 3, 17),
        id: Number.MAX_SAFE_INTEGER,
        hops: 3,
        meta: { trace: "t1" },
      }),
  },
  {
    name: "smallest",
    text: `
01                                  # format 1
00                                  # flags: none
00000000 00000000 00000000          # to 0:0:0
00000000 00000000                   # id 0
00                                  # hops 0
0000                                # subject "" (no bytes)
`,
    msg: () => new Msg(new Address(0, 0, 0), ""),
  },
];

function assertSameMsg(actual: Msg, expected: Msg): void {
  assert.ok(actual.to.equals(expected.to), `to ${actual.to.toString()}`);
  assert.equal(actual.from?.toString(), expected.from?.toString());
  assert.equal(actual.subject, expected.subject);
  assert.equal(actual.id, expected.id);
  assert.equal(actual.replyId, expected.replyId);
  assert.equal(actual.hops, expected.hops);
  assert.deepEqual(actual.meta, expected.meta);
  assert.deepEqual(actual.contents, expected.contents);
}

/** The test vectors of the docs' Msg encoding section, in order. */
function docVectors(): Buffer[] {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "docs", "protocols", "router.md"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("docs/protocols/router.md not found above the test");
    dir = up;
  }
  const doc = readFileSync(join(dir, "docs", "protocols", "router.md"), "utf8");
  const start = doc.indexOf("## The Msg encoding");
  const end = doc.indexOf("\n## ", start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => hex(m[1]!));
}

function refuses(bytes: Uint8Array, why: string): void {
  assert.throws(() => decodeMsg(bytes), (error: unknown) => {
    assert.ok(error instanceof InvalidArgumentError, `${why}: ${String(error)}`);
    assert.equal(error.code, "EINVAL");
    return true;
  }, why);
}

describe("Msg envelope", () => {
  it("encodes each vector to its annotated bytes, and decodes them back", T, () => {
    for (const v of VECTORS) {
      const bytes = hex(v.text);
      assert.deepEqual(Buffer.from(encodeMsg(v.msg())), bytes, v.name);
      assert.deepEqual(encodeMsgFrame(v.msg()), bytes, `${v.name} (frame)`);
      assertSameMsg(decodeMsg(bytes), v.msg());
    }
  });

  it("docs/protocols/router.md shows exactly these vectors", T, () => {
    assert.deepEqual(docVectors(), VECTORS.map((v) => hex(v.text)));
  });

  it("encodeMsg returns bytes that own their whole buffer (safe to post to a worker)", T, () => {
    const bytes = encodeMsg(VECTORS[0]!.msg());
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.byteLength);
  });

  it("round-trips any Msg: addresses, ids up to 2^53 - 1, hops, any subject, meta, contents", T, () => {
    const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
    const address = fc.tuple(u32, u32, u32).map(([m, r, c]) => new Address(m, r, c));
    const id = fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
    // A map key "__proto__" does not survive decoding into a plain object
    // (the MessagePack library sets the prototype instead): outside this property.
    const json = fc.jsonValue().filter((v) => !JSON.stringify(v ?? null).includes('"__proto__"'));
    fc.assert(
      fc.property(
        fc.record({
          to: address,
          from: fc.option(address, { nil: undefined }),
          subject: fc.oneof(fc.string(), fc.string({ unit: "binary", maxLength: 300 })),
          id,
          replyId: fc.option(id, { nil: undefined }),
          hops: fc.integer({ min: 0, max: 255 }),
          contents: fc.option(json, { nil: undefined }),
          meta: fc.option(fc.dictionary(fc.string().filter((k) => k !== "__proto__"), json), { nil: undefined }),
        }),
        (r) => {
          const msg = new Msg(r.to, r.subject, r.contents, { id: r.id, hops: r.hops });
          msg.from = r.from;
          msg.replyId = r.replyId;
          msg.meta = r.meta;
          const back = decodeMsg(encodeMsg(msg));
          assert.ok(back.to.equals(msg.to));
          assert.equal(back.from?.toString(), msg.from?.toString());
          assert.equal(back.subject, msg.subject);
          assert.equal(back.id, msg.id);
          assert.equal(back.replyId, msg.replyId);
          assert.equal(back.hops, msg.hops);
          // MessagePack has no -0, so JSON text is compared for meta and contents.
          assert.equal(JSON.stringify(back.meta), JSON.stringify(msg.meta));
          assert.equal(back.contents === undefined, msg.contents === undefined);
          assert.equal(JSON.stringify(back.contents ?? null), JSON.stringify(msg.contents ?? null));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("encodes scalar contents exactly as MessagePack does", T, () => {
    const scalar = fc.oneof(
      fc.integer({ min: -40, max: 300 }),
      fc.integer({ min: -0x8000_0000, max: 0xffff_ffff }),
      fc.constantFrom(-33, -32, -1, 0, 127, 128, 255, 256, 65535, 65536, -128, -129, -32768, -32769, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1),
      fc.double({ noNaN: true }),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.boolean(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(scalar, (value) => {
        const bytes = encodeMsg(new Msg(new Address(1, 2, 3), "S", value));
        const subjectEnd = 2 + 12 + 8 + 1 + 2 + 1;
        assert.deepEqual(Buffer.from(bytes.subarray(subjectEnd)), Buffer.from(encode(value)));
        const back = decodeMsg(bytes).contents;
        assert.ok(Object.is(back, value) || (back === 0 && value === 0), `${String(back)} for ${String(value)}`);
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses to encode a Msg that has no envelope, with EINVAL", T, () => {
    const to = new Address(1, 2, 3);
    const bad: Array<[string, () => Msg]> = [
      ["negative id", () => new Msg(to, "x", 1, { id: -1 })],
      ["fractional id", () => new Msg(to, "x", 1, { id: 1.5 })],
      ["id beyond 2^53 - 1", () => new Msg(to, "x", 1, { id: 2 ** 53 })],
      ["replyId NaN", () => new Msg(to, "x", 1, { replyId: Number.NaN })],
      ["hops 256", () => new Msg(to, "x", 1, { hops: 256 })],
      ["hops -1", () => new Msg(to, "x", 1, { hops: -1 })],
      ["lone surrogate in the subject", () => new Msg(to, "x\ud800", 1)],
      ["subject over 65535 bytes", () => new Msg(to, "é".repeat(40_000), 1)],
      ["meta that is a list", () => new Msg(to, "x", 1, { meta: [1, 2] as unknown as Record<string, unknown> })],
      ["contents MessagePack cannot hold", () => new Msg(to, "x", () => 1)],
    ];
    for (const [why, make] of bad) {
      assert.throws(() => encodeMsg(make()), { code: "EINVAL" }, why);
      assert.throws(() => encodeMsgFrame(make()), { code: "EINVAL" }, why);
    }
  });

  it("refuses malformed envelopes with EINVAL", T, () => {
    const [request, , withMeta, smallest] = VECTORS.map((v) => hex(v.text)) as [Buffer, Buffer, Buffer, Buffer];
    for (const v of [request, withMeta, smallest]) {
      for (let n = 0; n < v.length; n++) refuses(v.subarray(0, n), `truncated to ${n} of ${v.length}`);
    }
    const patched = (base: Buffer, at: number, ...bytes: number[]): Buffer => {
      const copy = Buffer.from(base);
      copy.set(bytes, at);
      return copy;
    };
    refuses(patched(request, 0, 0x02), "another format");
    refuses(patched(request, 0, 0x85), "the old MessagePack map");
    refuses(patched(request, 1, 0x19), "an unknown flag");
    refuses(Buffer.concat([withMeta, Buffer.from([0x00])]), "a trailing byte without contents");
    refuses(Buffer.concat([request, Buffer.from([0x00])]), "two MessagePack values as contents");
    refuses(patched(request, 26, 0x00, 0x20), "an id beyond 2^53 - 1");
    refuses(patched(request, 39, 0xff), "a subject that is not UTF-8");
    refuses(patched(request, 35, 0xff, 0xff), "a subject longer than the frame");
    refuses(patched(request, request.length - 1, 0xc1), "contents that are not MessagePack");
    refuses(patched(withMeta, 45, 0x91), "meta that is a list");
    refuses(patched(withMeta, 44, 0x7f), "meta longer than the frame");
    refuses(patched(smallest, 1, 0x08), "contents flagged but absent");
  });

  it("decodes any bytes to a Msg or refuses them with EINVAL, never anything else", T, () => {
    const valid = VECTORS.map((v) => hex(v.text));
    const decodeOrEinval = (bytes: Uint8Array): void => {
      try {
        decodeMsg(bytes);
      } catch (error) {
        assert.ok(error instanceof InvalidArgumentError, String(error));
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOrEinval), { numRuns: 2000 });
    // Mutations of valid envelopes reach far deeper than random bytes.
    const mutated = fc
      .tuple(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.uint8Array({ maxLength: 12 }),
        fc.nat(),
      )
      .map(([base, flips, tail, cut]) => {
        const bytes = Buffer.concat([base, tail]);
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        return bytes.subarray(0, bytes.length - (cut % 3));
      });
    fc.assert(fc.property(mutated, decodeOrEinval), { numRuns: 5000 });
  });

  it("refuses a message over the size limit before decoding it", T, () => {
    const request = hex(VECTORS[0]!.text);
    assert.throws(() => decodeMsg(request, request.length - 1), { code: "EINVAL" });
    assert.equal(decodeMsg(request, request.length).contents, 41);
  });
});
