// At-least-once delivery: DATA_REQ/ACK, bounded resends with backoff on a
// fake clock, final failure, duplicate suppression, and the ACK that leaves
// only once the application has been handed the message.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgainError, InvalidArgumentError, NotDeliveredError, SmartSocket } from "../../src/index.js";
import { TYPE_ACK, TYPE_DATA, TYPE_DATA_REQ, encodeAck, encodeData, encodeDataReq, encodeHello } from "../../src/smart/index.js";
import { DedupWindow, PendingSends } from "../../src/smart/reliable.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { RawPeer, id } from "./raw-peer.js";
import { nextEvent, peers, recvStrings, smartScope } from "./scope.js";

describe("smart Socket at-least-once", () => {
  const track = smartScope();

  /** A bind socket and a raw peer connected to it (HELLO exchanged). */
  async function withRawPeer(options: ConstructorParameters<typeof SmartSocket>[0]): Promise<[InstanceType<typeof SmartSocket>, RawPeer, string]> {
    const sock = track(new SmartSocket(options));
    const endpoint = await sock.bind("tcp://127.0.0.1:0");
    const raw = track(await RawPeer.connect(endpoint));
    raw.write(encodeHello(id(7)));
    await nextEvent(sock, "connect");
    return [sock, raw, endpoint];
  }

  it("publish with at-least-once is refused with EINVAL", { timeout: 5_000 }, () => {
    assert.throws(() => new SmartSocket({ sendMode: "publish", delivery: "at-least-once" }), InvalidArgumentError);
  });

  it("send() resolves when the peer ACKs the DATA_REQ", { timeout: 10_000 }, async () => {
    const [sock, raw] = await withRawPeer({ delivery: "at-least-once" });
    let acked = false;
    const sending = sock.send("needs an ack").then(() => (acked = true));
    const req = await raw.next(TYPE_DATA_REQ);
    assert.equal(req.body.subarray(16).toString(), "needs an ack");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(acked, false, "not resolved before the ACK");
    raw.write(encodeAck(req.body.subarray(0, 16)));
    await sending;
  });

  it("resends with backoff a bounded number of times, then rejects with ENOTDELIVERED", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const [sock, raw] = await withRawPeer({
      clock, delivery: "at-least-once", ackTimeout: 1000, maxAckTimeout: 4000, maxRetries: 3, heartbeatTimeout: 60_000,
    });
    const sending = sock.send("nobody acks this");
    const failure = assert.rejects(sending, (e: unknown) => e instanceof NotDeliveredError && e.code === "ENOTDELIVERED");
    const first = await raw.next(TYPE_DATA_REQ);
    const msgId = first.body.subarray(0, 16);
    // Waits of 1000, 2000, 4000 (capped), then a last 4000 after the final resend.
    for (const wait of [1000, 2000, 4000]) {
      clock.tick(wait - 1);
      clock.tick(1);
      const again = await raw.next(TYPE_DATA_REQ);
      assert.deepEqual(again.body.subarray(0, 16), msgId, "a resend carries the same message id");
    }
    clock.tick(4000);
    await failure;
    assert.equal(raw.received.filter((f) => f.type === TYPE_DATA_REQ).length, 0, "no fifth transmission");
  });

  it("resends at once on another connection when the one that carried it is lost", { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const [sock, first, endpoint] = await withRawPeer({ clock, delivery: "at-least-once" });
    const sending = sock.send("survives a lost peer");
    const req = await first.next(TYPE_DATA_REQ);
    const second = track(await RawPeer.connect(endpoint));
    second.write(encodeHello(id(8)));
    await peers(sock, 2);
    first.destroy();
    const resent = await second.next(TYPE_DATA_REQ);
    assert.deepEqual(resent.body, req.body);
    second.write(encodeAck(resent.body.subarray(0, 16)));
    await sending;
  });

  it("ACKs a DATA_REQ only once the application was handed the message", { timeout: 10_000 }, async () => {
    const sock = track(new SmartSocket());
    const endpoint = await sock.bind("tcp://127.0.0.1:0");
    const raw = track(await RawPeer.connect(endpoint));
    const msgId = Buffer.alloc(16, 0xab);
    const connected = nextEvent(sock, "connect");
    raw.write(encodeHello(id(9)), encodeDataReq(msgId, Buffer.from("deliver me")));
    await connected; // the frames behind the HELLO were handled in the same turn
    await sock.send("marker");
    assert.equal((await raw.next(TYPE_DATA, TYPE_ACK)).type, TYPE_DATA, "no ACK while the message waits in the queue");
    assert.equal(await sock.recvString(), "deliver me");
    const ack = await raw.next(TYPE_DATA, TYPE_ACK);
    assert.equal(ack.type, TYPE_ACK);
    assert.deepEqual(ack.body, msgId);
  });

  it("suppresses a duplicate that arrives after delivery, and ACKs it again", { timeout: 10_000 }, async () => {
    const sock = track(new SmartSocket());
    const raw = track(await RawPeer.connect(await sock.bind("tcp://127.0.0.1:0")));
    const msgId = Buffer.alloc(16, 0xcd);
    raw.write(encodeHello(id(10)), encodeDataReq(msgId, Buffer.from("once")));
    assert.equal(await sock.recvString(), "once");
    assert.deepEqual((await raw.next(TYPE_ACK)).body, msgId);
    raw.write(encodeDataReq(msgId, Buffer.from("once")), encodeData(Buffer.from("next")));
    assert.deepEqual((await raw.next(TYPE_ACK)).body, msgId, "the lost-ACK case: acknowledged again");
    assert.equal(await sock.recvString(), "next", "the duplicate was not delivered");
  });

  it("suppresses a duplicate that arrives while the first copy still waits in the queue", { timeout: 10_000 }, async () => {
    const sock = track(new SmartSocket());
    const raw = track(await RawPeer.connect(await sock.bind("tcp://127.0.0.1:0")));
    const msgId = Buffer.alloc(16, 0xef);
    raw.write(encodeHello(id(11)), encodeDataReq(msgId, Buffer.from("x")), encodeDataReq(msgId, Buffer.from("x")), encodeData(Buffer.from("y")));
    assert.deepEqual(await recvStrings(sock, 2), ["x", "y"]);
    assert.deepEqual((await raw.next(TYPE_ACK)).body, msgId);
  });

  it("maxPending bounds unacknowledged messages: with sendTimeout 0 the next send gets EAGAIN", { timeout: 10_000 }, async () => {
    const [sock, raw] = await withRawPeer({ delivery: "at-least-once", maxPending: 1, sendTimeout: 0 });
    const first = sock.send("in flight");
    await assert.rejects(sock.send("no room"), AgainError);
    const req = await raw.next(TYPE_DATA_REQ);
    raw.write(encodeAck(req.body.subarray(0, 16)));
    await first;
    const third = sock.send("room again");
    raw.write(encodeAck((await raw.next(TYPE_DATA_REQ)).body.subarray(0, 16)));
    await third;
  });

  it("delivers every message once between two sockets, each send resolving on its ACK", { timeout: 20_000 }, async () => {
    const receiver = track(new SmartSocket());
    const sender = track(new SmartSocket({ delivery: "at-least-once" }));
    await sender.connect(await receiver.bind("tcp://127.0.0.1:0"));
    const sends = Array.from({ length: 200 }, (_, i) => sender.send(`reliable ${i}`));
    const got = await recvStrings(receiver, 200);
    await Promise.all(sends);
    assert.deepEqual(new Set(got), new Set(Array.from({ length: 200 }, (_, i) => `reliable ${i}`)));
  });

  it("an identity send with at-least-once waits for that peer's ACK", { timeout: 10_000 }, async () => {
    const [sock, raw] = await withRawPeer({ delivery: "at-least-once" });
    const sending = sock.send("for you", { identity: id(7) });
    const req = await raw.next(TYPE_DATA_REQ);
    raw.write(encodeAck(req.body.subarray(0, 16)));
    await sending;
  });
});

describe("at-least-once building blocks", () => {
  it("PendingSends: doubling waits capped at maxAckTimeout, failure after maxRetries resends", { timeout: 5_000 }, async () => {
    const clock = new FakeClock();
    const due: number[] = [];
    const pending: PendingSends = new PendingSends(clock, { ackTimeout: 100, maxAckTimeout: 300, maxRetries: 4 }, (entry) => {
      due.push(clock.now());
      pending.written(entry, carrier);
    });
    const carrier = {};
    const entry = pending.create(Buffer.from("p"), undefined);
    pending.written(entry, carrier);
    let error: unknown;
    entry.done.catch((e: unknown) => (error = e));
    while (clock.pending > 0) clock.tickToNext();
    await Promise.resolve();
    assert.deepEqual(due, [100, 300, 600, 900]); // waits 100, 200, 300 (cap), 300
    assert.equal(clock.now(), 1200);
    assert.ok(error instanceof NotDeliveredError);
    assert.equal(pending.size, 0);
  });

  it("PendingSends: an ACK settles the entry; a late or unknown ACK is ignored", { timeout: 5_000 }, async () => {
    const clock = new FakeClock();
    const pending = new PendingSends(clock, { ackTimeout: 100, maxAckTimeout: 100, maxRetries: 1 }, () => assert.fail("no retry"));
    const entry = pending.create(Buffer.from("p"), undefined);
    pending.written(entry, {});
    assert.equal(pending.ack(entry.id), true);
    await entry.done;
    assert.equal(pending.ack(entry.id), false);
    assert.equal(clock.pending, 0, "its timer was cleared");
  });

  it("DedupWindow forgets by count and by age", { timeout: 5_000 }, () => {
    const clock = new FakeClock();
    const window = new DedupWindow(clock, 2, 1000);
    window.add("a");
    window.add("b");
    window.add("c");
    assert.equal(window.has("a"), false, "evicted by count");
    assert.equal(window.has("b") && window.has("c"), true);
    clock.tick(1001);
    assert.equal(window.has("c"), false, "expired by age");
    assert.equal(window.length <= 2, true);
  });
});
