// Flow control, over every transport: high-water marks, send and receive
// timeouts (on a fake clock), the order of concurrent sends, receive-side
// back-pressure, and a publisher dropping for a slow subscriber.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgainError, Publisher, Pull, Push, Subscriber } from "../../src/index.js";
import { bindUnique, forEachTransport, laterEndpoint } from "../helpers/endpoints.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { primeSubscription, receiveStrings, settledWithin, socketScope, strings, turn } from "../helpers/sockets.js";

const T = { timeout: 10_000 };
const track = socketScope();

const isEagain = (error: unknown): boolean => error instanceof AgainError && error.code === "EAGAIN";

/** Event-loop turns a send may take to resolve before the test calls it stalled (a resolved send takes one or two). */
const STALL_TURNS = 20;

forEachTransport((transport) => {
  describe(`flow control over ${transport}`, () => {
    it("send waits at the high-water mark and resumes when the peer takes messages", T, async () => {
      const address = await laterEndpoint(transport);
      const push = track(new Push({ sendHighWaterMark: 2 }));
      push.connect(address);
      await push.send("0");
      await push.send("1");
      const third = push.send("2");
      assert.equal(await settledWithin(third), "pending");
      const pull = track(new Pull());
      await pull.bind(address);
      await third;
      assert.deepEqual(await receiveStrings(pull, 3), [["0"], ["1"], ["2"]]);
    });

    it("writable is false while every peer is at its high-water mark", T, async () => {
      const address = await laterEndpoint(transport);
      const push = track(new Push({ sendHighWaterMark: 2 }));
      push.connect(address);
      assert.equal(push.writable, true);
      await push.send("0");
      await push.send("1");
      // A send now would wait: zeromq.js (ZMQ_POLLOUT) reports not writable.
      assert.equal(push.writable, false);
    });

    it("sendTimeout: a send waiting at the high-water mark rejects with EAGAIN once it expires", T, async () => {
      const clock = new FakeClock();
      const push = track(new Push({ sendHighWaterMark: 1, sendTimeout: 100, clock }));
      push.connect(await laterEndpoint(transport));
      await push.send("queued");
      const waiting = push.send("times out");
      clock.tick(99);
      assert.equal(await settledWithin(waiting), "pending");
      clock.tick(1);
      await assert.rejects(waiting, isEagain);
    });

    it("sendTimeout 0: a send that cannot be queued at once rejects with EAGAIN", T, async () => {
      const push = track(new Push({ sendHighWaterMark: 1, sendTimeout: 0 }));
      push.connect(await laterEndpoint(transport));
      await push.send("fits");
      await assert.rejects(push.send("does not fit"), isEagain);
      const lonely = track(new Push({ sendTimeout: 0 }));
      await bindUnique(lonely, transport);
      await assert.rejects(lonely.send("no peer at all"), isEagain);
    });

    it("receiveTimeout: a receive with nothing to take rejects with EAGAIN once it expires", T, async () => {
      const clock = new FakeClock();
      const pull = track(new Pull({ receiveTimeout: 50, clock }));
      const address = await bindUnique(pull, transport);
      const waiting = pull.receive();
      clock.tick(49);
      assert.equal(await settledWithin(waiting), "pending");
      clock.tick(1);
      await assert.rejects(waiting, isEagain);
      // A message that comes later goes to the next receive, not the expired one.
      const push = track(new Push());
      push.connect(address);
      await push.send("later");
      const next = pull.receive();
      assert.deepEqual(strings(await next), ["later"]);
    });

    it("receiveTimeout 0: receive rejects with EAGAIN when nothing waits, and succeeds when a message does", T, async () => {
      const pull = track(new Pull({ receiveTimeout: 0 }));
      const address = await bindUnique(pull, transport);
      await assert.rejects(pull.receive(), isEagain);
      const push = track(new Push());
      push.connect(address);
      await push.send("here");
      while (!pull.readable) await turn();
      assert.deepEqual(strings(await pull.receive()), ["here"]);
    });

    it("concurrent sends go out in call order and all arrive", T, async () => {
      const address = await laterEndpoint(transport);
      const push = track(new Push({ sendHighWaterMark: 2 }));
      push.connect(address);
      const sends = Array.from({ length: 10 }, (_, i) => push.send(String(i)));
      void Promise.allSettled(sends); // a failure below must not leave them unhandled
      const pull = track(new Pull());
      await pull.bind(address);
      await Promise.all(sends);
      assert.deepEqual(await receiveStrings(pull, 10), Array.from({ length: 10 }, (_, i) => [String(i)]));
    });

    it("concurrent sends resolve in call order", T, async () => {
      const address = await laterEndpoint(transport);
      const push = track(new Push({ sendHighWaterMark: 2 }));
      push.connect(address);
      const resolved: number[] = [];
      const sends = Array.from({ length: 10 }, (_, i) => push.send(String(i)).then(() => void resolved.push(i)));
      void Promise.allSettled(sends); // a failed assertion below must not leave them unhandled
      // The first two fit below the high-water mark; the rest wait for the peer.
      await turn();
      assert.deepEqual(resolved, [0, 1]);
      const pull = track(new Pull());
      await pull.bind(address);
      await Promise.all(sends);
      assert.deepEqual(resolved, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it("a receiver that does not read makes the sender wait instead of queueing without bound", T, async () => {
      const pull = track(new Pull({ receiveHighWaterMark: 10 }));
      const push = track(new Push({ sendHighWaterMark: 10 }));
      push.connect(await bindUnique(pull, transport));
      const body = Buffer.alloc(64 * 1024, 7);
      // 1000 x 64 KiB = 64 MiB: far beyond both high-water marks plus any
      // kernel socket buffers, so an unbounded queue cannot hide.
      const limit = 1000;
      let sent = 0;
      let stalled: Promise<void> | undefined;
      while (sent < limit) {
        const sending = push.send([String(sent), body]);
        if ((await settledWithin(sending, STALL_TURNS)) === "pending") {
          stalled = sending;
          break;
        }
        sent++;
      }
      assert.ok(stalled !== undefined, `all ${limit} sends went through without the receiver reading`);
      // Reading releases the sender; nothing was lost or reordered.
      for (let i = 0; i <= sent; i++) {
        const [seq, data] = await pull.receive();
        assert.equal(seq?.toString(), String(i));
        assert.equal(data?.length, body.length);
      }
      await stalled;
    });

    it("a Publisher drops for a subscriber at its high-water mark and never waits", T, async () => {
      const pub = track(new Publisher({ sendHighWaterMark: 10 }));
      const sub = track(new Subscriber({ receiveHighWaterMark: 10 }));
      sub.connect(await bindUnique(pub, transport));
      sub.subscribe("");
      await primeSubscription((m) => pub.send(m), sub, "");
      const body = Buffer.alloc(16 * 1024, 1);
      const total = 2000; // 32 MiB, far more than the queues and kernel buffers hold
      for (let i = 0; i < total; i++) {
        const sending = pub.send([String(i), body]);
        assert.notEqual(await settledWithin(sending, STALL_TURNS), "pending", `send ${i} waited`);
      }
      // Read what got through, then fence with markers until one arrives.
      const seen: number[] = [];
      let marker = false;
      const reading = (async () => {
        for (;;) {
          const [seq] = strings(await sub.receive());
          if (seq === "end") break;
          seen.push(Number(seq));
        }
        marker = true;
      })();
      while (!marker) {
        await pub.send("end");
        await turn();
      }
      await reading;
      assert.ok(seen.length > 0, "nothing got through");
      assert.ok(seen.length < total, `all ${total} messages got through to a subscriber that did not read`);
      for (let k = 1; k < seen.length; k++) assert.ok(seen[k]! > seen[k - 1]!, "out of order");
      assert.equal(seen[0], 0);
    });

    it("noDrop: a Publisher waits for a slow subscriber instead of dropping", T, async () => {
      const pub = track(new Publisher({ sendHighWaterMark: 10, noDrop: true }));
      const sub = track(new Subscriber({ receiveHighWaterMark: 10 }));
      sub.connect(await bindUnique(pub, transport));
      sub.subscribe("");
      await primeSubscription((m) => pub.send(m), sub, "");
      const body = Buffer.alloc(64 * 1024, 2);
      let sent = 0;
      let stalled: Promise<void> | undefined;
      while (sent < 1000) {
        const sending = pub.send([String(sent), body]);
        if ((await settledWithin(sending, STALL_TURNS)) === "pending") {
          stalled = sending;
          break;
        }
        sent++;
      }
      assert.ok(stalled !== undefined, "a noDrop publisher never waited");
      for (let i = 0; i <= sent; i++) assert.equal(strings(await sub.receive())[0], String(i));
      await stalled;
    });
  });
});
