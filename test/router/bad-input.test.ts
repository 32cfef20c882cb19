// Bad input on a hub link: a raw ZeroMQ peer sends garbage, messages before
// its hello, a bad hello, directory updates it has no right to send, an
// unknown subject and an oversized message. Each is refused with a coded
// error and a diagnostics event; nothing crashes, and a well-behaved peer on
// the same hub is served throughout.
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import { Dealer, messaging, type SwitchboardError } from "../../src/index.js";
import { addOneAgent } from "./add-one.js";

const { Address, Directory, Entry, Msg, Router, VLM, decodeMsg, encodeMsg, registerEntry } = messaging;
const T = { timeout: 10_000 };

/** A peer speaking the router protocol by hand, as another implementation would. */
class RawPeer {
  readonly socket = new Dealer({ linger: 0 });
  constructor(endpoint: string) {
    this.socket.connect(endpoint);
  }
  send(bytes: Uint8Array | Buffer): Promise<void> {
    return this.socket.send(Buffer.from(bytes));
  }
  hello(machineId: number, routerId: number, contents: unknown = { directory: null }): Promise<void> {
    return this.send(encodeMsg(new Msg(new Address(0, 0, 0), VLM.LINK_HELLO, contents, { from: new Address(machineId, routerId, 1) })));
  }
  async receive(): Promise<messaging.Msg> {
    const [frame] = await this.socket.receive();
    return decodeMsg(frame!);
  }
  close(): void {
    this.socket.close();
  }
}

describe("bad input on a hub link", () => {
  let hub: messaging.Router;
  let endpoint: string;
  let agent: messaging.Connection;
  let directory: messaging.Directory;
  const malformed: Array<{ error: SwitchboardError }> = [];
  const onMalformed = (message: unknown): void => void malformed.push(message as { error: SwitchboardError });

  before(async () => {
    subscribe("switchboard:messaging:malformed", onMalformed);
    hub = new Router({ mode: VLM.NETWORK_MODE, machineId: 70 });
    directory = new Directory(hub, { vnets: ["test"], netListen: "tcp://127.0.0.1:0", link: { maxMessageBytes: 1024 * 1024 } });
    await directory.ready;
    endpoint = directory.netEndpoint!;
    agent = addOneAgent(hub);
    await registerEntry(agent, new Entry(agent.addr, "AddOne", null, ["test"]), 1_000);
  });
  after(() => {
    unsubscribe("switchboard:messaging:malformed", onMalformed);
    hub.shutdown();
  });

  /** A well-behaved peer (machine 71) asks ADD_ONE over its own link. */
  async function goodPeerIsServed(n: number): Promise<void> {
    const good = new RawPeer(endpoint);
    try {
      await good.hello(71, 1);
      const hello = await good.receive();
      assert.equal(hello.subject, VLM.LINK_HELLO);
      await good.send(encodeMsg(new Msg(agent.addr, "ADD_ONE", n, { from: new Address(71, 1, 16), id: 9 })));
      const reply = await good.receive();
      assert.deepEqual([reply.subject, reply.contents, reply.replyId], ["ADD_ONE", n + 1, 9]);
    } finally {
      good.close();
    }
  }

  /** Says hello and waits for the hub's: frames on one link are handled in order, so everything sent before has been handled. */
  async function sync(peer: RawPeer, machineId: number): Promise<void> {
    await peer.hello(machineId, 1);
    assert.equal((await peer.receive()).subject, VLM.LINK_HELLO);
  }

  /** A PING to the agent and its PONG: everything sent before on this link has been handled. */
  async function barrier(peer: RawPeer, machineId: number): Promise<void> {
    await peer.send(encodeMsg(new Msg(agent.addr, VLM.PING, null, { from: new Address(machineId, 1, 16), id: 1000 })));
    const pong = await peer.receive();
    assert.deepEqual([pong.subject, pong.replyId], [VLM.PONG, 1000]);
  }

  it("garbage, a message before hello and a bad hello are dropped and reported; the link stays usable", T, async () => {
    const bad = new RawPeer(endpoint);
    try {
      const first = malformed.length;
      await bad.send(Buffer.from([0xff, 0x00, 0x13, 0x37]));
      await bad.send(encodeMsg(new Msg(agent.addr, "ADD_ONE", 1, { from: new Address(72, 1, 16), id: 1 })));
      await bad.hello(72, 1, { directory: { vnets: "not a list" } });
      await sync(bad, 72);
      assert.deepEqual(malformed.slice(first).map((m) => m.error.code), ["EINVAL", "EINVAL", "EINVAL"]);
      // The same link, now that it said a proper hello, carries messages.
      await bad.send(encodeMsg(new Msg(agent.addr, "ADD_ONE", 5, { from: new Address(72, 1, 16), id: 2 })));
      assert.equal((await bad.receive()).contents, 6);
      await goodPeerIsServed(1);
    } finally {
      bad.close();
    }
  });

  it("an unknown subject is answered DOES_NOT_UNDERSTAND; a message for nobody is answered MSG_NOT_DELIVERED", T, async () => {
    const peer = new RawPeer(endpoint);
    try {
      await sync(peer, 73);
      const from = new Address(73, 1, 16);
      await peer.send(encodeMsg(new Msg(agent.addr, "NO_SUCH_THING", null, { from, id: 1 })));
      const dnu = await peer.receive();
      assert.deepEqual([dnu.subject, dnu.replyId], [VLM.DOES_NOT_UNDERSTAND, 1]);
      await peer.send(encodeMsg(new Msg(new Address(70, hub.routerId, 999), "ADD_ONE", 1, { from, id: 2 })));
      const nobody = await peer.receive();
      assert.deepEqual([nobody.subject, nobody.replyId], [VLM.MSG_NOT_DELIVERED, 2]);
    } finally {
      peer.close();
    }
  });

  it("a message past the hop limit is refused, so a routing loop ends", T, async () => {
    const peer = new RawPeer(endpoint);
    try {
      await sync(peer, 74);
      const from = new Address(74, 1, 16);
      await peer.send(encodeMsg(new Msg(new Address(99, 1, 16), "ADD_ONE", 1, { from, id: 1, hops: VLM.MAX_HOPS - 1 })));
      const looped = await peer.receive();
      assert.equal(looped.subject, VLM.MSG_NOT_DELIVERED);
      assert.match((looped.contents as { reason: string }).reason, /gave up after 8 hops/);
      await peer.send(encodeMsg(new Msg(new Address(99, 1, 16), "ADD_ONE", 1, { from, id: 2 })));
      const unknown = await peer.receive();
      assert.equal(unknown.subject, VLM.MSG_NOT_DELIVERED);
      assert.match((unknown.contents as { reason: string }).reason, /no route to machine 99/);
    } finally {
      peer.close();
    }
  });

  it("directory updates from a router that is not a linked directory are refused and reported", T, async () => {
    const peer = new RawPeer(endpoint);
    try {
      await sync(peer, 75); // its hello says it has no directory
      const first = malformed.length;
      const entries = directory.size;
      await peer.send(encodeMsg(new Msg(hub.directoryAddr, VLM.DIRECTORY_SYNC, { anything: 1 }, { from: new Address(75, 1, 1), id: 1 })));
      await barrier(peer, 75);
      assert.deepEqual(malformed.slice(first).map((m) => m.error.code), ["EINVAL"]);
      assert.equal(directory.size, entries);
    } finally {
      peer.close();
    }
  });

  it("an oversized message closes that link only, with ERR_ZMTP_MESSAGE_TOO_LARGE", T, async () => {
    const errors: Array<{ error: SwitchboardError }> = [];
    const onError = (m: unknown): void => void errors.push(m as { error: SwitchboardError });
    subscribe("switchboard:connection:protocol-error", onError);
    const peer = new RawPeer(endpoint);
    try {
      await sync(peer, 76);
      const gone = new Promise((resolve) => peer.socket.events.once("disconnect", resolve));
      await peer.send(encodeMsg(new Msg(agent.addr, "ADD_ONE", Buffer.alloc(2 * 1024 * 1024), { from: new Address(76, 1, 16), id: 1 })));
      await gone;
      assert.ok(errors.some((e) => e.error.code === "ERR_ZMTP_MESSAGE_TOO_LARGE"), JSON.stringify(errors.map((e) => e.error.code)));
      await goodPeerIsServed(2);
    } finally {
      unsubscribe("switchboard:connection:protocol-error", onError);
      peer.close();
    }
  });
});
