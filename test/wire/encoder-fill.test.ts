// FrameEncoder.writeFrameWith: a frame filled in place is byte for byte the
// frame writeFrame makes of the same body, at every size class (short
// header, long header in the batch, separately buffered body).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FrameEncoder } from "../../src/wire/encoder.js";

const T = { timeout: 10_000 };

function joined(encoder: FrameEncoder): Buffer {
  return Buffer.concat(encoder.take());
}

describe("FrameEncoder.writeFrameWith", () => {
  it("writes the same bytes as writeFrame, between other frames", T, () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 2_000 }), { minLength: 1, maxLength: 8 }), fc.nat(), (bodies, pick) => {
        const filled = new FrameEncoder();
        const copied = new FrameEncoder();
        const inPlace = pick % bodies.length;
        bodies.forEach((body, i) => {
          copied.writeFrame(body, false);
          if (i === inPlace) {
            filled.writeFrameWith(body.length, (target, offset) => target.set(body, offset));
          } else {
            filled.writeFrame(body, false);
          }
        });
        assert.equal(filled.pending, copied.pending);
        assert.deepEqual(joined(filled), joined(copied));
      }),
      { numRuns: 300 },
    );
  });

  it("a fill that throws leaves nothing behind", T, () => {
    const encoder = new FrameEncoder();
    encoder.writeFrame(Buffer.from("a"), false);
    assert.throws(() => encoder.writeFrameWith(3, () => {
      throw new Error("no");
    }));
    encoder.writeFrame(Buffer.from("b"), false);
    assert.equal(encoder.pending, 6);
    assert.deepEqual(joined(encoder), Buffer.from([0, 1, 0x61, 0, 1, 0x62]));
  });
});
