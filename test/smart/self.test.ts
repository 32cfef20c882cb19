// A socket never becomes its own peer: connecting to its own bound
// endpoint (or meeting itself through a TCP simultaneous open while
// reconnecting) is refused on the HELLO, like a duplicate identity.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { SmartSocket } from "../../src/index.js";

describe("smart Socket and its own identity", () => {
  it("a connection whose HELLO carries the socket's own identity is refused", { timeout: 10_000 }, async () => {
    const sock = new SmartSocket({ reconnectDelay: () => 60_000 });
    try {
      const endpoint = await sock.bind("tcp://127.0.0.1:0");
      const rejected = once(sock.events, "reject");
      await sock.connect(endpoint);
      const [info] = (await rejected) as [{ identity: Buffer; error: { code: string; message: string } }];
      assert.equal(info.error.code, "ERR_AIOMSG_DUPLICATE_IDENTITY");
      assert.match(info.error.message, /this socket itself/);
      assert.ok(info.identity.equals(sock.identity));
      assert.equal(sock.peerCount, 0);
    } finally {
      await sock.close();
    }
  });
});
