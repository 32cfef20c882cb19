// Request deadlines: one timer for all pending requests; a settled request
// never expires, an unsettled one expires at its deadline and not before,
// whatever happened to the requests around it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Deadlines } from "../../src/router/deadlines.js";
import { FakeClock } from "../helpers/fake-clock.js";

const T = { timeout: 10_000 };

describe("Deadlines", () => {
  it("expires an unsettled request at its deadline, never a settled one, and then lets the timer go", T, () => {
    const clock = new FakeClock();
    const deadlines = new Deadlines(clock);
    const expired: string[] = [];
    const a = deadlines.add(100, () => expired.push("a"));
    const b = deadlines.add(100, () => expired.push("b"));
    deadlines.add(50, () => expired.push("c"));
    deadlines.settle(b);
    clock.tick(49);
    assert.deepEqual(expired, []);
    clock.tick(1);
    assert.deepEqual(expired, ["c"]);
    clock.tick(49);
    assert.deepEqual(expired, ["c"]);
    clock.tick(1);
    assert.deepEqual(expired, ["c", "a"]);
    assert.equal(a.live, false);
    assert.equal(clock.pending, 0, "no timer once nothing is pending");
    deadlines.settle(a); // settling an expired request changes nothing
    clock.tick(1_000);
    assert.deepEqual(expired, ["c", "a"]);
  });

  it("keeps exact deadlines when thousands of settled requests sit behind an old pending one", T, () => {
    const clock = new FakeClock();
    const deadlines = new Deadlines(clock);
    const expired: number[] = [];
    const old = deadlines.add(20_000, () => expired.push(-1));
    const live: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      clock.tick(1);
      const d = deadlines.add(20_000, () => expired.push(i));
      // Every 1000th stays pending; the rest are answered at once.
      if (i % 1_000 === 999) live.push(i);
      else deadlines.settle(d);
    }
    clock.tick(9_999);
    assert.deepEqual(expired, [], "nothing before its deadline");
    clock.tick(1);
    assert.deepEqual(expired, [-1], "the old request expires at its own deadline");
    clock.tick(20_000);
    assert.deepEqual(expired, [-1, ...live], "the others expire in order, the settled ones never");
    assert.equal(old.live, false);
    assert.equal(clock.pending, 0);
  });

  it("expires an object through its expire() method", T, () => {
    const clock = new FakeClock();
    const deadlines = new Deadlines(clock);
    const request = { expired: 0, expire(): void {
      this.expired++;
    } };
    deadlines.add(10, request);
    deadlines.settle(deadlines.add(10, request));
    clock.tick(10);
    assert.equal(request.expired, 1);
  });

  it("clear() cancels everything", T, () => {
    const clock = new FakeClock();
    const deadlines = new Deadlines(clock);
    let fired = 0;
    for (let i = 0; i < 10; i++) deadlines.add(10 * i, () => fired++);
    deadlines.clear();
    assert.equal(clock.pending, 0);
    clock.tick(1_000);
    assert.equal(fired, 0);
  });
});
