// close() with linger -1 flushes and then ends each link. A link that receive
// back-pressure had paused must still see the peer's end of the stream and
// close, instead of keeping a file descriptor (and the process) alive.
import assert from "node:assert/strict";
import diagnostics_channel from "node:diagnostics_channel";
import { describe, it } from "node:test";
import { Pull } from "../../src/index.js";
import { RawServer } from "../helpers/raw-zmtp.js";
import { nextEvent, turn } from "../helpers/sockets.js";

describe("closing a socket whose link is paused by receive back-pressure", () => {
  it("the paused link still closes once the peer has closed its side (linger -1)", { timeout: 5_000 }, async () => {
    const server = await RawServer.listen("PUSH");
    const pull = new Pull({ receiveHighWaterMark: 1 });
    let onDisconnect: ((message: unknown) => void) | undefined;
    try {
      const up = nextEvent(pull, "handshake");
      pull.connect(server.endpoint);
      const conn = await server.accepted();
      await Promise.all([conn.ready, up]);
      conn.send(["m1"]);
      // More than the stream and kernel buffers hold: the reader really stops.
      const filler = "x".repeat(64 * 1024);
      for (let i = 0; i < 64; i++) conn.send([filler]);
      // Nothing is read by the application: at the first message the pipe
      // is at its receive high-water mark and the link pauses.
      while (!pull.readable) await turn();
      assert.equal(pull.pipes.size, 1);

      const linkGone = new Promise<void>((resolve) => {
        onDisconnect = (message) => {
          if ((message as { socketType: string }).socketType === "PULL") resolve();
        };
        diagnostics_channel.subscribe("switchboard:connection:disconnect", onDisconnect);
      });
      pull.close();
      // The peer reads our FIN and closes its side in turn.
      await conn.closed;
      await linkGone;
    } finally {
      if (onDisconnect) diagnostics_channel.unsubscribe("switchboard:connection:disconnect", onDisconnect);
      // Do not let a leaked stream keep the test process alive.
      for (const pipe of pull.pipes) pipe.link?.destroy();
      pull.linger = 0;
      pull.close();
      server.close();
    }
  });
});
