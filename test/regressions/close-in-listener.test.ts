// Closing a socket from inside one of its event listeners (connect,
// connect:retry) stops it for good: no reconnect timer is armed afterwards,
// so nothing keeps the process alive.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Push } from "../../src/index.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { laterEndpoint } from "../helpers/endpoints.js";

describe("closing a socket from its own event listener", () => {
  it("on connect:retry leaves no reconnect timer behind", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const push = new Push({ clock, reconnectInterval: 60_000 });
    const retried = new Promise<void>((resolve) =>
      push.events.on("connect:retry", () => {
        push.close();
        resolve();
      }),
    );
    // Nothing listens there, so the first dial fails and a retry is scheduled.
    push.connect(await laterEndpoint("tcp"));
    await retried;
    assert.equal(clock.pending, 0, "no timer armed after close()");
  });
});
