// PUSH/PULL contract, over every transport: delivery of every message type,
// round-robin across pullers, fair-queued receive across pushers, and
// messages sent before the peer exists.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pull, Push } from "../../src/index.js";
import { bindUnique, forEachTransport, laterEndpoint } from "../helpers/endpoints.js";
import { nextEvent, receiveStrings, settledWithin, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

/** Waits until `socket` has completed `count` handshakes. */
function handshakes(socket: Push | Pull, count: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    socket.events.on("handshake", () => {
      if (++seen === count) resolve();
    });
  });
}

forEachTransport((transport) => {
  describe(`PUSH/PULL over ${transport}`, () => {
    it("delivers a message from a connected Push to a bound Pull", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      push.connect(await bindUnique(pull, transport));
      await push.send("hello");
      assert.deepEqual(strings(await pull.receive()), ["hello"]);
    });

    it("delivers a message from a bound Push to a connected Pull", T, async () => {
      const push = track(new Push());
      const pull = track(new Pull());
      pull.connect(await bindUnique(push, transport));
      await push.send("hello");
      assert.deepEqual(strings(await pull.receive()), ["hello"]);
    });

    it("keeps multipart messages whole, empty frames included", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      push.connect(await bindUnique(pull, transport));
      await push.send(["a", "", "c", null]);
      await push.send([""]);
      await push.send(["x", "y"]);
      assert.deepEqual(await receiveStrings(pull, 3), [["a", "", "c", ""], [""], ["x", "y"]]);
    });

    it("sends every kind of frame zeromq.js accepts, as bytes", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      push.connect(await bindUnique(pull, transport));
      const view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4);
      await push.send([Buffer.from([0, 255]), "héllo", 42, null, view, new Uint8Array([7]).buffer]);
      const frames = await pull.receive();
      assert.ok(frames.every((f) => Buffer.isBuffer(f)));
      assert.deepEqual(frames, [
        Buffer.from([0, 255]), Buffer.from("héllo"), Buffer.from("42"), Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.from([7]),
      ]);
    });

    it("carries a large message intact", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      push.connect(await bindUnique(pull, transport));
      const big = Buffer.alloc(3 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      await push.send(["head", big]);
      const [head, body] = await pull.receive();
      assert.equal(head?.toString(), "head");
      assert.ok(body?.equals(big));
    });

    it("keeps the order of many messages", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      push.connect(await bindUnique(pull, transport));
      const count = 5000;
      const sending = (async () => {
        for (let i = 0; i < count; i++) await push.send(String(i));
      })();
      for (let i = 0; i < count; i++) assert.equal((await pull.receive())[0]?.toString(), String(i));
      await sending;
    });

    it("spreads messages evenly across three connected Pulls (round-robin)", T, async () => {
      const push = track(new Push());
      const address = await bindUnique(push, transport);
      const ready = handshakes(push, 3);
      const pulls = [0, 1, 2].map(() => {
        const pull = track(new Pull());
        pull.connect(address);
        return pull;
      });
      await ready;
      for (let i = 0; i < 30; i++) await push.send(String(i));
      for (const pull of pulls) {
        const got = (await receiveStrings(pull, 10)).map((m) => Number(m[0]));
        // Each puller gets every third message, in order.
        for (let k = 1; k < got.length; k++) assert.equal(got[k]! - got[k - 1]!, 3, `got ${got.join(",")}`);
      }
    });

    it("round-robins over connected endpoints even before they are up", T, async () => {
      const push = track(new Push());
      const addresses = await Promise.all([0, 1, 2].map(() => laterEndpoint(transport)));
      for (const address of addresses) push.connect(address);
      // Queued on the connect side, one queue per endpoint.
      for (let i = 0; i < 9; i++) await push.send(String(i));
      const pulls: Pull[] = [];
      for (const address of addresses) {
        const pull = track(new Pull());
        await pull.bind(address);
        pulls.push(pull);
      }
      const received = await Promise.all(pulls.map((pull) => receiveStrings(pull, 3)));
      assert.deepEqual(received, [
        [["0"], ["3"], ["6"]],
        [["1"], ["4"], ["7"]],
        [["2"], ["5"], ["8"]],
      ]);
    });

    it("fair-queues: a Pull takes turns between three Pushes", T, async () => {
      const pull = track(new Pull());
      const address = await bindUnique(pull, transport);
      const pushes = ["a", "b", "c"].map((name) => {
        const push = track(new Push());
        const ready = nextEvent(push, "handshake");
        push.connect(address);
        return { name, push, ready };
      });
      await Promise.all(pushes.map(({ ready }) => ready));
      let gone = 0;
      const allGone = new Promise<void>((resolve) => {
        pull.events.on("disconnect", () => {
          if (++gone === 3) resolve();
        });
      });
      for (const { name, push } of pushes) {
        for (let i = 0; i < 10; i++) await push.send([name, String(i)]);
        // Closing flushes (linger) and then ends the link, so once the Pull
        // saw all three links end, every message is waiting in its queues.
        push.close();
      }
      await allGone;
      const got = await receiveStrings(pull, 30);
      const order = got.slice(0, 3).map((m) => m[0]);
      assert.deepEqual([...order].sort(), ["a", "b", "c"]);
      for (let i = 0; i < 30; i++) {
        assert.deepEqual(got[i], [order[i % 3], String(Math.floor(i / 3))], `message ${i} of ${JSON.stringify(got)}`);
      }
    });

    it("queues messages sent before the Pull binds and delivers them once it does", T, async () => {
      const address = await laterEndpoint(transport);
      const push = track(new Push());
      push.connect(address);
      await push.send("early-1");
      await push.send("early-2");
      const pull = track(new Pull());
      await pull.bind(address);
      assert.deepEqual(await receiveStrings(pull, 2), [["early-1"], ["early-2"]]);
    });

    it("makes a bound Push with no peer wait, and delivers once a Pull connects", T, async () => {
      const push = track(new Push());
      const address = await bindUnique(push, transport);
      assert.equal(push.writable, false);
      const sent = push.send("waited");
      assert.equal(await settledWithin(sent), "pending");
      const pull = track(new Pull());
      pull.connect(address);
      await sent;
      assert.deepEqual(strings(await pull.receive()), ["waited"]);
    });

    it("serves concurrent receive() calls in call order", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      push.connect(await bindUnique(pull, transport));
      const receives = [pull.receive(), pull.receive(), pull.receive()];
      for (const word of ["a", "b", "c"]) await push.send(word);
      assert.deepEqual((await Promise.all(receives)).map(strings), [["a"], ["b"], ["c"]]);
    });

    it("reports readable only while a message waits", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      push.connect(await bindUnique(pull, transport));
      assert.equal(pull.readable, false);
      const first = pull.receive();
      await push.send("one");
      await push.send("two");
      assert.deepEqual(strings(await first), ["one"]);
      // "two" was sent after "one" on the same link, so it is either here or
      // arriving; receive it and check the flag follows the queue.
      assert.deepEqual(strings(await pull.receive()), ["two"]);
      assert.equal(pull.readable, false);
    });
  });
});
