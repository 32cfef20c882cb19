// connect() twice to one endpoint makes two links, as in libzmq; disconnect()
// ends both.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pull, Push } from "../../src/index.js";
import { bindUnique, forEachTransport } from "../helpers/endpoints.js";
import { socketScope, strings } from "../helpers/sockets.js";

forEachTransport((t) => {
  describe(`connecting twice to one endpoint over ${t}`, () => {
    const track = socketScope();

    it("makes two peers that share the work, and disconnect() ends both", { timeout: 10_000 }, async () => {
      const pull = track(new Pull());
      const address = await bindUnique(pull, t);
      const push = track(new Push());
      let accepted = 0;
      const both = new Promise<void>((resolve) =>
        pull.events.on("handshake", () => {
          if (++accepted === 2) resolve();
        }),
      );
      push.connect(address);
      push.connect(address);
      await both;
      for (const value of ["a", "b", "c", "d"]) await push.send(value);
      const got = [];
      for (let i = 0; i < 4; i++) got.push(strings(await pull.receive())[0]);
      assert.deepEqual(got.sort(), ["a", "b", "c", "d"]);
      let lost = 0;
      const gone = new Promise<void>((resolve) =>
        pull.events.on("disconnect", () => {
          if (++lost === 2) resolve();
        }),
      );
      push.disconnect(address);
      await gone;
      assert.throws(() => push.disconnect(address), { code: "ENOENT" });
    });
  });
});
