// Agents on routers in one process (LOCAL mode): addressing, fire-and-forget
// and request/reply, and every failure as a coded, prompt outcome.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addOneAgent } from "./add-one.js";
import { messaging, RemoteError, type SwitchboardError } from "../../src/index.js";
import { FakeClock } from "../helpers/fake-clock.js";

const { Address, Msg, Router, VLM } = messaging;
type Msg = messaging.Msg;
const T = { timeout: 5_000 };

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<SwitchboardError> {
  try {
    await promise;
  } catch (error) {
    assert.equal((error as SwitchboardError).code, code, String(error));
    return error as SwitchboardError;
  }
  assert.fail(`expected a rejection with ${code}`);
}

describe("Address", () => {
  it("prints, parses, compares and serialises", () => {
    const a = new Address(3, 7, 42);
    assert.equal(a.toString(), "3:7:42");
    assert.ok(Address.parse("3:7:42").equals(a));
    assert.ok(Address.fromJSON(JSON.parse(JSON.stringify(a))).equals(a));
    assert.ok(!a.equals(new Address(3, 7, 43)));
    assert.ok(a.directory.equals(new Address(3, 7, messaging.DIRECTORY_CONNECTION_ID)));
  });

  it("refuses malformed addresses with EINVAL", () => {
    assert.throws(() => Address.parse("1:2"), { code: "EINVAL" });
    assert.throws(() => Address.parse("a:b:c"), { code: "EINVAL" });
    assert.throws(() => new Address(-1, 0, 0), { code: "EINVAL" });
    assert.throws(() => Address.fromJSON([1, 2]), { code: "EINVAL" });
  });
});

describe("request/reply on one router and across routers", () => {
  it("Add One on one router", T, async () => {
    const router = new Router();
    try {
      const fred = addOneAgent(router);
      const conn = router.newConnection();
      const reply = await conn.send<number>(new Msg(fred.addr, "ADD_ONE", 41), 1_000);
      assert.equal(reply.contents, 42);
      assert.equal(reply.subject, "ADD_ONE");
      assert.ok(reply.from?.equals(fred.addr));
    } finally {
      router.shutdown();
    }
  });

  it("Add One between two routers of the process", T, async () => {
    const r1 = new Router();
    const r2 = new Router();
    try {
      assert.notEqual(r1.routerId, r2.routerId);
      const fred = addOneAgent(r1);
      const conn = r2.newConnection();
      const reply = await conn.send<number>(new Msg(fred.addr, "ADD_ONE", 41), 1_000);
      assert.equal(reply.contents, 42);
    } finally {
      r1.shutdown();
      r2.shutdown();
      await Promise.all([r1.hasShutdown, r2.hasShutdown]);
    }
  });

  it("delivers fire-and-forget messages in order, after send() returns", T, async () => {
    const router = new Router();
    try {
      const seen: number[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      const sink = router.newConnection((msg) => {
        seen.push(msg.contents as number);
        if (seen.length === 1000) done();
      });
      const conn = router.newConnection();
      for (let i = 0; i < 1000; i++) await conn.send(new Msg(sink.addr, "N", i));
      await all;
      assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i));
    } finally {
      router.shutdown();
    }
  });

  it("a reply goes to the sender and names the request it answers", () => {
    const request = new Msg(new Address(1, 1, 20), "Q", 1, { from: new Address(1, 2, 30), id: 7 });
    const reply = request.reply("A");
    assert.ok(reply.to.equals(new Address(1, 2, 30)));
    assert.equal(reply.replyId, 7);
    assert.equal(reply.subject, "Q");
    assert.equal(request.reply(null, "OTHER").subject, "OTHER");
  });
});

describe("failures are explicit and prompt", () => {
  it("no reply within the timeout: ETIMEDOUT, driven by the clock", T, async () => {
    const clock = new FakeClock();
    const router = new Router({ clock });
    try {
      const silent = router.newConnection(() => {});
      const conn = router.newConnection();
      const request = conn.send(new Msg(silent.addr, "Q"), 500);
      await new Promise(setImmediate);
      clock.tick(499);
      let settled = false;
      void request.then(() => (settled = true), () => (settled = true));
      await new Promise(setImmediate);
      assert.equal(settled, false, "not before the deadline");
      clock.tick(1);
      const error = await rejectsWith(request, "ETIMEDOUT");
      assert.match(error.message, /500 ms/);
      assert.equal(clock.pending, 0, "no timer left behind");
    } finally {
      router.shutdown();
    }
  });

  it("an answered request leaves no timer behind", T, async () => {
    const clock = new FakeClock();
    const router = new Router({ clock });
    try {
      const fred = addOneAgent(router);
      const conn = router.newConnection();
      await conn.send(new Msg(fred.addr, "ADD_ONE", 1), 60_000);
      assert.equal(clock.pending, 0);
    } finally {
      router.shutdown();
    }
  });

  for (const [name, target] of [
    ["an unknown connection", (r: messaging.Router) => new Address(r.machineId, r.routerId, 9999)],
    ["an unknown router", (r: messaging.Router) => new Address(r.machineId, 999_999, 20)],
    ["a connection without a handler", (r: messaging.Router) => r.newConnection().addr],
    [
      "a closed connection",
      (r: messaging.Router) => {
        const c = r.newConnection(() => {});
        c.close();
        return c.addr;
      },
    ],
  ] as const) {
    it(`a message to ${name}: ENOTDELIVERED at once, not after the timeout`, T, async () => {
      const clock = new FakeClock();
      const router = new Router({ clock });
      try {
        const conn = router.newConnection();
        // The clock never moves: only an immediate answer can settle this.
        await rejectsWith(conn.send(new Msg(target(router), "Q"), 60_000), "ENOTDELIVERED");
      } finally {
        router.shutdown();
      }
    });
  }

  it("an unknown subject: EDOESNOTUNDERSTAND; PING: PONG", T, async () => {
    const router = new Router();
    try {
      const fred = addOneAgent(router);
      const conn = router.newConnection();
      await rejectsWith(conn.send(new Msg(fred.addr, "MULTIPLY"), 1_000), "EDOESNOTUNDERSTAND");
      const pong = await conn.send(new Msg(fred.addr, VLM.PING), 1_000);
      assert.equal(pong.subject, VLM.PONG);
    } finally {
      router.shutdown();
    }
  });

  it("a handler that throws or rejects: EREMOTE with its error", T, async () => {
    const router = new Router();
    try {
      const throwing = router.newConnection(() => {
        throw new RangeError("too big");
      });
      const rejecting = router.newConnection(async () => {
        throw new TypeError("bad type");
      });
      const conn = router.newConnection();
      const e1 = await rejectsWith(conn.send(new Msg(throwing.addr, "Q"), 1_000), "EREMOTE");
      assert.ok(e1 instanceof RemoteError);
      assert.deepEqual(e1.remote, { name: "RangeError", message: "too big" });
      const e2 = await rejectsWith(conn.send(new Msg(rejecting.addr, "Q"), 1_000), "EREMOTE");
      assert.ok(e2 instanceof RemoteError);
      assert.equal(e2.remote.name, "TypeError");
    } finally {
      router.shutdown();
    }
  });

  it("a late reply reaches the handler, which may ignore it; nothing bounces back and forth", T, async () => {
    const clock = new FakeClock();
    const router = new Router({ clock });
    try {
      let requestToAnswer: Msg | undefined;
      let arrived!: () => void;
      const gotRequest = new Promise<void>((resolve) => (arrived = resolve));
      const slow = router.newConnection((msg) => {
        requestToAnswer = msg;
        arrived();
      });
      const replies: Msg[] = [];
      const asker = router.newConnection((msg) => {
        replies.push(msg);
        return [VLM.IGNORE_UNHANDLED_REPLIES];
      });
      const request = asker.send(new Msg(slow.addr, "Q"), 100);
      await gotRequest;
      clock.tick(100);
      await rejectsWith(request, "ETIMEDOUT");
      await slow.send(requestToAnswer!.reply("late"));
      await new Promise(setImmediate);
      assert.equal(replies.length, 1);
      assert.equal(replies[0]?.contents, "late");
    } finally {
      router.shutdown();
    }
  });

  it("shutdown: pending requests reject with ESHUTDOWN, sends after it too, and hasShutdown resolves", T, async () => {
    const r1 = new Router();
    const r2 = new Router();
    const silent = r1.newConnection(() => {});
    const conn = r2.newConnection();
    const pending = conn.send(new Msg(silent.addr, "Q"), 60_000);
    r2.shutdown();
    await rejectsWith(pending, "ESHUTDOWN");
    await rejectsWith(conn.send(new Msg(silent.addr, "Q")), "ESHUTDOWN");
    await r2.hasShutdown;
    assert.throws(() => r2.newConnection(), { code: "ESHUTDOWN" });
    // A router that has shut down is unknown to the others: messages to it bounce.
    const other = r1.newConnection();
    await rejectsWith(other.send(new Msg(conn.addr, "Q"), 60_000), "ENOTDELIVERED");
    r1.shutdown();
  });

  it("another machine is reached only by a NETWORK-mode router with a route; otherwise ENOTDELIVERED at once", { timeout: 10_000 }, async () => {
    for (const mode of [VLM.LOCAL_MODE, VLM.MACHINE_MODE, VLM.NETWORK_MODE]) {
      const router = new Router({ mode });
      try {
        const conn = router.newConnection();
        const far = new Address(router.machineId + 1, 5, 16);
        await assert.rejects(conn.send(new Msg(far, "ADD_ONE", 1), 60_000), (e: SwitchboardError) => {
          assert.equal(e.code, "ENOTDELIVERED", `${mode}: ${String(e)}`);
          if (mode !== VLM.NETWORK_MODE) assert.match(e.message, /only NETWORK-mode routers reach other machines/);
          return true;
        });
      } finally {
        router.shutdown();
      }
    }
    assert.throws(() => new Router({ mode: "WAN" as never }), { code: "EINVAL" });
  });
});
