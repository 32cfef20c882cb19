// The throughput paths of the smart Socket under load: batched writes that
// copy small messages into a reused buffer and pass large ones by reference,
// ACKs encoded back to back, the receive queue pausing and resuming its
// connections, the message iterators, and the duplicate-suppression window.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SmartSocket } from "../../src/index.js";
import { DedupWindow } from "../../src/smart/reliable.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { nextEvent, smartScope } from "./scope.js";

/** Sizes around every threshold of the write path: empty, tiny, the copy limit (1 KiB), large. */
const SIZES = [0, 1, 16, 255, 1023, 1024, 1025, 5000, 70_000];

/** Message `seq` of sender `tag`: its size from SIZES, its bytes a pattern of both, so any mix-up shows. */
function message(tag: number, seq: number): Buffer {
  const size = SIZES[seq % SIZES.length]!;
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (tag * 31 + seq * 7 + i) & 0xff;
  return out;
}

describe("smart Socket hot paths", () => {
  const track = smartScope();

  it("messages of every size from two senders arrive intact and in order through a slow, back-pressured reader", { timeout: 30_000 }, async () => {
    // A small receive queue makes the reader pause its connections again and
    // again, so the senders' writes back up in the kernel and complete later:
    // a write buffer reused too early would corrupt the bytes seen here.
    const receiver = track(new SmartSocket({ receiveBufferSize: 8 }));
    const endpoint = await receiver.bind("tcp://127.0.0.1:0");
    const senders = [track(new SmartSocket()), track(new SmartSocket())];
    const connected = [nextEvent(receiver, "connect"), nextEvent(receiver, "connect")];
    for (const sender of senders) await sender.connect(endpoint);
    await Promise.all(connected);
    const perSender = 3_000;
    const sending = senders.map(async (sender, tag) => {
      for (let seq = 0; seq < perSender; seq++) await sender.send(message(tag, seq));
    });
    const tags = new Map(senders.map((sender, tag) => [sender.identity.toString("hex"), tag]));
    const next = [0, 0];
    let received = 0;
    for await (const [identity, data] of receiver.identityMessages()) {
      const tag = tags.get(identity.toString("hex"));
      assert.notEqual(tag, undefined, "from one of the senders");
      const seq = next[tag!]!++;
      assert.deepEqual(data, message(tag!, seq), `message ${seq} of sender ${tag}`);
      if (++received % 97 === 0) await new Promise((resolve) => setImmediate(resolve));
      if (received === 2 * perSender) break;
    }
    await Promise.all(sending);
    assert.deepEqual(next, [perSender, perSender]);
  });

  it("thousands of at-least-once sends in flight all resolve once read, each delivered once", { timeout: 30_000 }, async () => {
    const receiver = track(new SmartSocket({ dedupWindowSize: 100 }));
    const sender = track(new SmartSocket({ delivery: "at-least-once", maxPending: 500 }));
    const up = nextEvent(receiver, "connect");
    await sender.connect(await receiver.bind("tcp://127.0.0.1:0"));
    await up;
    const total = 5_000;
    // More sends than maxPending: the rest wait inside the socket, in order.
    const acked = Array.from({ length: total }, (_, seq) => sender.send(message(1, seq)));
    for (let seq = 0; seq < total; seq++) assert.deepEqual(await receiver.recv(), message(1, seq));
    await Promise.all(acked);
  });

  it("messages(): concurrent next() calls take successive messages; return() ends the iteration", { timeout: 10_000 }, async () => {
    const receiver = track(new SmartSocket());
    const sender = track(new SmartSocket());
    await sender.connect(await receiver.bind("tcp://127.0.0.1:0"));
    const iterator = receiver.messages();
    const first = iterator.next();
    const second = iterator.next();
    await sender.send("one");
    await sender.send("two");
    assert.deepEqual([(await first).value?.toString(), (await second).value?.toString()], ["one", "two"]);
    assert.deepEqual(await iterator.return(), { value: undefined, done: true });
    await sender.send("three");
    assert.equal((await iterator.next()).done, true, "a finished iterator takes nothing more");
    assert.equal(await receiver.recvString(), "three", "the message stays for the next reader");
  });

  it("identityMessages(): an iteration waiting for a message ends when the socket closes", { timeout: 10_000 }, async () => {
    const sock = new SmartSocket();
    const iterator = sock.identityMessages();
    const waiting = iterator.next();
    await sock.close();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.equal((await iterator.next()).done, true);
  });
});

describe("DedupWindow", () => {
  it("forgets the oldest ids first, by count, across expiries and re-adds", { timeout: 5_000 }, () => {
    const clock = new FakeClock();
    const window = new DedupWindow(clock, 3, 1000);
    window.add("a");
    clock.tick(600);
    window.add("b");
    clock.tick(600);
    assert.equal(window.has("a"), false, "a expired");
    window.add("a"); // delivered again after expiring: now the newest
    window.add("c");
    assert.deepEqual(["a", "b", "c"].map((k) => window.has(k)), [true, true, true]);
    window.add("d"); // over the count: b, the oldest, goes
    assert.deepEqual(["a", "b", "c", "d"].map((k) => window.has(k)), [true, false, true, true]);
    window.add("e");
    assert.deepEqual(["a", "c", "d", "e"].map((k) => window.has(k)), [false, true, true, true]);
    assert.equal(window.length, 3);
  });

  it("holds its bound over many ids", { timeout: 5_000 }, () => {
    const clock = new FakeClock();
    const window = new DedupWindow(clock, 1000, 300_000);
    for (let i = 0; i < 50_000; i++) {
      window.add(`id-${i}`);
      if (i % 10 === 0) clock.tick(1);
    }
    assert.equal(window.length, 1000);
    assert.equal(window.has("id-48999"), false);
    assert.equal(window.has("id-49000"), true);
  });
});
