// MachineLinks on their own: messages reach the router their address names
// (or any ipc endpoint, with sendTo), in order per destination; what cannot
// be sent or read is reported to the router, never thrown.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, Push, messaging } from "../../src/index.js";
import { MachineLinks, routerEndpoint, type MachineLinkHost } from "../../src/router/machine-links.js";

const { Address, Msg } = messaging;
type Msg = messaging.Msg;
const T = { timeout: 10_000 };
/** Ids no real router uses: a machine of its own, router ids from this process id. */
const MACHINE = 4242;
let nextRouter = 0;
const routerId = (): number => (process.pid % 0x10_0000) * 64 + nextRouter++;

type Event = { kind: "arrived"; msg: Msg } | { kind: "undeliverable"; msg: Msg; reason: string } | { kind: "malformed"; error: unknown };

/** A host that records what its links report, and lets a test wait for it. */
class Recorder implements MachineLinkHost {
  readonly events: Event[] = [];
  private waiter: { count: number; resolve: () => void } | undefined;
  arrived(msg: Msg): void {
    this.push({ kind: "arrived", msg });
  }
  undeliverable(msg: Msg, reason: string): void {
    this.push({ kind: "undeliverable", msg, reason });
  }
  malformed(error: unknown): void {
    this.push({ kind: "malformed", error });
  }
  /** Resolves once `count` events have been recorded in all. */
  until(count: number): Promise<Event[]> {
    if (this.events.length >= count) return Promise.resolve(this.events);
    return new Promise((resolve) => (this.waiter = { count, resolve: () => resolve(this.events) }));
  }
  private push(event: Event): void {
    this.events.push(event);
    if (this.waiter && this.events.length >= this.waiter.count) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve();
    }
  }
}

async function node(): Promise<{ id: number; links: MachineLinks; host: Recorder }> {
  const id = routerId();
  const host = new Recorder();
  const links = new MachineLinks(MACHINE, id, host);
  await links.listening;
  return { id, links, host };
}

const subjects = (events: Event[]): string[] => events.map((e) => (e.kind === "arrived" ? e.msg.subject : e.kind));

describe("MachineLinks", () => {
  it("sends each message to the router its address names, in order per router, hops and all", T, async () => {
    const [a, b, c] = [await node(), await node(), await node()];
    try {
      const from = new Address(MACHINE, a.id, 16);
      // Alternating destinations: the link remembered for one must not carry the other's messages.
      for (let i = 0; i < 6; i++) {
        const to = new Address(MACHINE, i % 2 === 0 ? b.id : c.id, 16);
        a.links.send(new Msg(to, `m${i}`, i, { from, id: i + 1, hops: i }));
      }
      assert.deepEqual(subjects(await b.host.until(3)), ["m0", "m2", "m4"]);
      assert.deepEqual(subjects(await c.host.until(3)), ["m1", "m3", "m5"]);
      const m4 = b.host.events[2];
      assert.ok(m4?.kind === "arrived");
      assert.equal(m4.msg.hops, 4);
      assert.equal(m4.msg.contents, 4);
      assert.ok(m4.msg.from?.equals(from));
    } finally {
      for (const n of [a, b, c]) n.links.close();
    }
  });

  it("messages of every size cross intact, in order (short, long and separately buffered frames)", T, async () => {
    const [a, b] = [await node(), await node()];
    try {
      const to = new Address(MACHINE, b.id, 16);
      const sizes = [0, 1, 200, 230, 300, 1_000, 1_100, 5_000, 70_000, 3];
      sizes.forEach((n, i) => a.links.send(new Msg(to, `s${i}`, "x".repeat(n), { id: i + 1 })));
      const events = await b.host.until(sizes.length);
      assert.deepEqual(subjects(events), sizes.map((_, i) => `s${i}`));
      events.forEach((e, i) => assert.ok(e.kind === "arrived" && e.msg.contents === "x".repeat(sizes[i]!)));
    } finally {
      a.links.close();
      b.links.close();
    }
  });

  it("sendTo() delivers to any ipc endpoint, whatever router the message names", T, async () => {
    const [a, gateway] = [await node(), await node()];
    try {
      const elsewhere = new Address(MACHINE + 1, 77, 16);
      a.links.sendTo("gateway", routerEndpoint(MACHINE, gateway.id), new Msg(elsewhere, "VIA_GATEWAY", { n: 1 }));
      const [event] = await gateway.host.until(1);
      assert.ok(event?.kind === "arrived");
      assert.ok(event.msg.to.equals(elsewhere));
      assert.deepEqual(event.msg.contents, { n: 1 });
    } finally {
      a.links.close();
      gateway.links.close();
    }
  });

  it("a router that is not running: the message is reported undeliverable", T, async () => {
    const a = await node();
    try {
      const msg = new Msg(new Address(MACHINE, routerId(), 16), "NOBODY", 1, { from: new Address(MACHINE, a.id, 16), id: 1 });
      a.links.send(msg);
      const [event] = await a.host.until(1);
      assert.ok(event?.kind === "undeliverable");
      assert.equal(event.msg, msg);
    } finally {
      a.links.close();
    }
  });

  it("a message without an encoding is reported undeliverable at once, not thrown", T, async () => {
    const [a, b] = [await node(), await node()];
    try {
      const msg = new Msg(new Address(MACHINE, b.id, 16), "BAD", () => 1, { id: 1 });
      a.links.send(msg);
      assert.equal(a.host.events.length, 1);
      const event = a.host.events[0];
      assert.ok(event?.kind === "undeliverable");
      assert.match(event.reason, /encode/);
    } finally {
      a.links.close();
      b.links.close();
    }
  });

  it("frames that are not one Msg are reported malformed and dropped; the link goes on", T, async () => {
    const b = await node();
    const push = new Push();
    try {
      push.connect(routerEndpoint(MACHINE, b.id));
      await push.send(Buffer.from("not a msg"));
      await push.send([Buffer.from(messaging.encodeMsg(new Msg(new Address(MACHINE, b.id, 16), "TWO", 2))), Buffer.from("x")]);
      await push.send(Buffer.from(messaging.encodeMsg(new Msg(new Address(MACHINE, b.id, 16), "OK", 3))));
      const events = await b.host.until(3);
      assert.deepEqual(subjects(events), ["malformed", "malformed", "OK"]);
      for (const e of events.slice(0, 2)) assert.ok(e.kind === "malformed" && e.error instanceof InvalidArgumentError);
    } finally {
      push.close();
      b.links.close();
    }
  });
});
