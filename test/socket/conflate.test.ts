// conflate (ZMQ_CONFLATE): a queue keeps only the latest message.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pull, Push } from "../../src/index.js";
import { uniqueEndpoint } from "../helpers/endpoints.js";
import { socketScope, strings } from "../helpers/sockets.js";

describe("conflate", () => {
  const track = socketScope();

  it("a receiving queue keeps only the latest message", { timeout: 10_000 }, async () => {
    const address = uniqueEndpoint("inproc");
    const pull = track(new Pull({ conflate: true }));
    await pull.bind(address);
    const push = track(new Push());
    push.connect(address);
    // Over inproc a queued message is in the receiver's queue once send() resolves.
    for (const value of ["1", "2", "3", "4", "5"]) await push.send(value);
    assert.deepEqual(strings(await pull.receive()), ["5"]);
    assert.equal(pull.readable, false, "the older messages were replaced, not kept");
  });

  it("a sending queue keeps only the latest message while no peer is there", { timeout: 10_000 }, async () => {
    const address = uniqueEndpoint("inproc");
    const push = track(new Push({ conflate: true }));
    push.connect(address);
    for (const value of ["1", "2", "3", "4", "5"]) await push.send(value);
    const pull = track(new Pull());
    await pull.bind(address);
    assert.deepEqual(strings(await pull.receive()), ["5"]);
    // Over inproc the whole queue is handed over when the link comes up.
    assert.equal(pull.readable, false, "only the latest message was sent");
  });
});
