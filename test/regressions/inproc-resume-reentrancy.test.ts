// Over inproc, taking a message from a paused pipe resumes the link and the
// peer may write its next message at once. Waiting receive() calls must each
// get one message, in order, and none may be lost or left unsettled.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pull, Push } from "../../src/index.js";
import { socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

let counter = 0;
const name = (): string => `inproc://reentrancy-${process.pid}-${++counter}`;

describe("inproc receive back-pressure re-entrancy", () => {
  it("a waiting receive gets the first message when the link resumes (receiveHighWaterMark 1)", T, async () => {
    const address = name();
    const pull = track(new Pull({ receiveHighWaterMark: 1 }));
    await pull.bind(address);
    const first = pull.receive();
    const push = track(new Push());
    push.connect(address);
    // Sent before the link is up (it comes up in a microtask): queued in the
    // connect-side pipe, they go out in one pump when it does.
    const sent = Promise.all([push.send("m1"), push.send("m2"), push.send("m3")]);
    await sent;
    assert.deepEqual(strings(await first), ["m1"]);
    assert.deepEqual(strings(await pull.receive()), ["m2"]);
    assert.deepEqual(strings(await pull.receive()), ["m3"]);
  });

  it("two waiting receives both settle, in order", T, async () => {
    const address = name();
    const pull = track(new Pull({ receiveHighWaterMark: 1 }));
    await pull.bind(address);
    const a = pull.receive();
    const b = pull.receive();
    const push = track(new Push());
    push.connect(address);
    await Promise.all([push.send("m1"), push.send("m2"), push.send("m3")]);
    const got = await Promise.all([a, b]);
    assert.deepEqual(got.map(strings), [["m1"], ["m2"]]);
  });
});
