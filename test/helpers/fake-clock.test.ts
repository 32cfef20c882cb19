// The fake clock the socket suite relies on: deterministic order, timers
// scheduled by timers, cancellation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "./fake-clock.js";

describe("FakeClock", () => {
  it("runs due timers in order of due time, then of scheduling, and only when ticked", () => {
    const clock = new FakeClock();
    const ran: string[] = [];
    clock.setTimeout(() => ran.push("b@20"), 20);
    clock.setTimeout(() => ran.push("a@10"), 10);
    clock.setTimeout(() => ran.push("c@20"), 20);
    assert.deepEqual(ran, []);
    assert.equal(clock.tick(9), 0);
    assert.equal(clock.tick(11), 3);
    assert.deepEqual(ran, ["a@10", "b@20", "c@20"]);
    assert.equal(clock.now(), 20);
  });

  it("runs timers scheduled by timers when they fall due within the same tick, at their own time", () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const every10 = (): void => {
      times.push(clock.now());
      clock.setTimeout(every10, 10);
    };
    clock.setTimeout(every10, 10);
    clock.tick(35);
    assert.deepEqual(times, [10, 20, 30]);
    assert.equal(clock.nextDue(), 40);
    assert.equal(clock.tickToNext(), 5);
    assert.deepEqual(times, [10, 20, 30, 40]);
  });

  it("does not run cleared timers, and treats negative delays as zero", () => {
    const clock = new FakeClock(1000);
    const ran: string[] = [];
    const handle = clock.setTimeout(() => ran.push("cleared"), 5);
    clock.setTimeout(() => ran.push("now"), -1);
    clock.clearTimeout(handle);
    assert.equal(clock.pending, 1);
    clock.tick(10);
    assert.deepEqual(ran, ["now"]);
    assert.equal(clock.pending, 0);
    assert.throws(() => clock.tick(-1), RangeError);
  });
});
