// disconnect() honours linger as close() does (libzmq applies ZMQ_LINGER to
// both, digest 6.5): a message whose send() resolved before disconnect() is
// still delivered.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pull, Push } from "../../src/index.js";
import { nextEvent, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

describe("disconnect() honours linger", () => {
  it("a message sent just before disconnect() reaches the peer (linger -1)", T, async () => {
    const pull = track(new Pull());
    await pull.bind("tcp://127.0.0.1:0");
    const address = pull.lastEndpoint!;
    const push = track(new Push());
    const up = nextEvent(push, "handshake");
    push.connect(address);
    await up;
    const gone = nextEvent(pull, "disconnect").then(() => "link closed, nothing received");
    await push.send("last words");
    push.disconnect(address);
    // The bytes precede the end of the stream, so the message must win the race.
    const first = await Promise.race([pull.receive().then(strings), gone]);
    assert.deepEqual(first, ["last words"]);
  });
});
