// Msg <-> MessagePack: annotated vectors both ways, and hostile input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encode } from "@msgpack/msgpack";
import { InvalidArgumentError, messaging } from "../../src/index.js";

const { Address, Msg, encodeMsg, decodeMsg } = messaging;

/** Hex with spaces and comments removed. */
const hex = (text: string): Buffer => Buffer.from(text.replace(/#.*$/gm, "").replace(/\s+/g, ""), "hex");

// A request: ADD_ONE 41 from 1:3:17 to 1:2:16, id 5.
const REQUEST = hex(`
  85                              # map of 5
  a2 746f          93 01 02 10    # "to": [1, 2, 16]
  a4 66726f6d      93 01 03 11    # "from": [1, 3, 17]
  a7 7375626a656374               # "subject":
  a7 4144445f4f4e45               #   "ADD_ONE"
  a2 6964          05             # "id": 5
  a8 636f6e74656e7473  29         # "contents": 41
`);

// Its reply: ADD_ONE 42 back to 1:3:17, id 1, replyId 5.
const REPLY = hex(`
  86                              # map of 6
  a2 746f          93 01 03 11    # "to": [1, 3, 17]
  a4 66726f6d      93 01 02 10    # "from": [1, 2, 16]
  a7 7375626a656374               # "subject":
  a7 4144445f4f4e45               #   "ADD_ONE"
  a2 6964          01             # "id": 1
  a7 7265706c794964  05           # "replyId": 5
  a8 636f6e74656e7473  2a         # "contents": 42
`);

describe("Msg wire form", () => {
  it("encodes a request and its reply to the annotated bytes", () => {
    const request = new Msg(new Address(1, 2, 16), "ADD_ONE", 41, { from: new Address(1, 3, 17), id: 5 });
    assert.deepEqual(Buffer.from(encodeMsg(request)), REQUEST);
    const reply = request.reply(42);
    reply.from = new Address(1, 2, 16);
    reply.id = 1;
    assert.deepEqual(Buffer.from(encodeMsg(reply)), REPLY);
  });

  it("decodes the annotated bytes", () => {
    const request = decodeMsg(REQUEST);
    assert.ok(request.to.equals(new Address(1, 2, 16)));
    assert.ok(request.from?.equals(new Address(1, 3, 17)));
    assert.equal(request.subject, "ADD_ONE");
    assert.equal(request.id, 5);
    assert.equal(request.replyId, undefined);
    assert.equal(request.contents, 41);
    const reply = decodeMsg(REPLY);
    assert.equal(reply.replyId, 5);
    assert.equal(reply.contents, 42);
  });

  it("round-trips structured contents and meta", () => {
    fc.assert(
      fc.property(
        fc.record({
          to: fc.tuple(fc.nat(), fc.nat(), fc.nat()),
          subject: fc.string(),
          id: fc.nat(),
          replyId: fc.option(fc.nat(), { nil: undefined }),
          contents: fc.jsonValue(),
          trace: fc.option(fc.string(), { nil: undefined }),
        }),
        (r) => {
          // A map key "__proto__" does not survive decoding into a plain
          // object (it sets the prototype instead): outside this property.
          fc.pre(!JSON.stringify(r.contents ?? null).includes('"__proto__"'));
          const msg = new Msg(new Address(...r.to), r.subject, r.contents, {
            id: r.id,
            ...(r.replyId !== undefined ? { replyId: r.replyId } : {}),
            ...(r.trace !== undefined ? { meta: { trace: r.trace } } : {}),
          });
          const back = decodeMsg(encodeMsg(msg));
          assert.ok(back.to.equals(msg.to));
          assert.equal(back.subject, msg.subject);
          assert.equal(back.id, msg.id);
          assert.equal(back.replyId, msg.replyId);
          assert.deepEqual(back.meta, msg.meta);
          // MessagePack has no -0; JSON-like values otherwise come back equal.
          assert.deepEqual(JSON.stringify(back.contents ?? null), JSON.stringify(msg.contents ?? null));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses malformed input with EINVAL only, never anything else", () => {
    const bad = [
      encode([1, 2, 3]),
      encode({ to: [1, 2], subject: "x", id: 1 }),
      encode({ to: [1, 2, 3], subject: 7, id: 1 }),
      encode({ to: [1, 2, 3], subject: "x", id: -1 }),
      encode({ to: [1, 2, 3], subject: "x", id: 1, replyId: "y" }),
      encode({ to: [1, 2, 3], subject: "x", id: 1, meta: [1] }),
      Buffer.from([0xc1]),
      Buffer.alloc(0),
    ];
    for (const bytes of bad) assert.throws(() => decodeMsg(bytes), InvalidArgumentError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeMsg(bytes);
        } catch (error) {
          assert.ok(error instanceof InvalidArgumentError, String(error));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses a message over the size limit before decoding it", () => {
    assert.throws(() => decodeMsg(REQUEST, REQUEST.length - 1), { code: "EINVAL" });
  });
});
