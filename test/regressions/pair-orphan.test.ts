// A bind-side Pair keeps the unread messages of every peer that went away,
// oldest first, as libzmq keeps a terminated pipe readable up to its end.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgainError, Pair } from "../../src/index.js";
import { nextEvent, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

/** Connects a PAIR to `address`, sends `text`, and closes it (linger -1: the message goes out first). */
async function visit(binder: Pair, address: string, text: string): Promise<void> {
  const gone = nextEvent(binder, "disconnect");
  const peer = track(new Pair());
  const up = nextEvent(peer, "handshake");
  peer.connect(address);
  await up;
  await peer.send(text);
  peer.close();
  await gone;
}

describe("PAIR keeps the unread messages of peers that left", () => {
  it("messages from two successive peers that left are both still readable", T, async () => {
    const pair = track(new Pair({ receiveTimeout: 0 }));
    await pair.bind("tcp://127.0.0.1:0");
    const address = pair.lastEndpoint!;
    await visit(pair, address, "from first peer");
    await visit(pair, address, "from second peer");
    const got: string[] = [];
    for (;;) {
      try {
        got.push(...strings(await pair.receive()));
      } catch (error) {
        if (error instanceof AgainError) break;
        throw error;
      }
    }
    assert.deepEqual(got.sort(), ["from first peer", "from second peer"]);
  });
});
