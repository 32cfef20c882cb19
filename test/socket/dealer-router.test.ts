// DEALER/ROUTER contract, over every transport: routing ids (explicit and
// generated), mandatory, handover, duplicate ids, ROUTER to ROUTER.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Dealer, HostUnreachableError, Router } from "../../src/index.js";
import { bindUnique, forEachTransport } from "../helpers/endpoints.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { nextEvent, receiveStrings, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

/** A Dealer connected to `address`, once its handshake is done. */
async function dealerUp(address: string, options: ConstructorParameters<typeof Dealer>[0] = {}): Promise<Dealer> {
  const dealer = track(new Dealer(options));
  const up = nextEvent(dealer, "handshake");
  dealer.connect(address);
  await up;
  return dealer;
}

forEachTransport((transport) => {
  describe(`DEALER/ROUTER over ${transport}`, () => {
    it("prefixes messages with the Dealer's routing id and routes replies by it", T, async () => {
      const router = track(new Router());
      const address = await bindUnique(router, transport);
      const dealer = track(new Dealer({ routingId: "dealer-1" }));
      dealer.connect(address);
      await dealer.send(["hello", "world"]);
      assert.deepEqual(strings(await router.receive()), ["dealer-1", "hello", "world"]);
      await router.send(["dealer-1", "back"]);
      assert.deepEqual(strings(await dealer.receive()), ["back"]);
    });

    it("generates distinct 5-byte ids (0x00 + counter) for peers without one", T, async () => {
      const router = track(new Router());
      const address = await bindUnique(router, transport);
      const a = track(new Dealer());
      const b = track(new Dealer());
      a.connect(address);
      b.connect(address);
      await a.send("from a");
      await b.send("from b");
      const ids = new Map<string, Buffer>();
      for (let i = 0; i < 2; i++) {
        const [id, body] = await router.receive();
        assert.equal(id?.length, 5);
        assert.equal(id?.[0], 0);
        ids.set(body!.toString(), id!);
      }
      assert.ok(!ids.get("from a")!.equals(ids.get("from b")!));
      await router.send([ids.get("from b")!, "to b"]);
      await router.send([ids.get("from a")!, "to a"]);
      assert.deepEqual(strings(await a.receive()), ["to a"]);
      assert.deepEqual(strings(await b.receive()), ["to b"]);
    });

    it("carries multipart messages with empty frames both ways", T, async () => {
      const router = track(new Router());
      const dealer = track(new Dealer({ routingId: "d" }));
      dealer.connect(await bindUnique(router, transport));
      await dealer.send(["", "x", "", ""]);
      assert.deepEqual(strings(await router.receive()), ["d", "", "x", "", ""]);
      await router.send(["d", "", "", "y"]);
      assert.deepEqual(strings(await dealer.receive()), ["", "", "y"]);
    });

    it("a Dealer round-robins to its peers and fair-queues their replies", T, async () => {
      const routers = [track(new Router()), track(new Router())];
      const dealer = track(new Dealer({ routingId: "rr" }));
      for (const router of routers) dealer.connect(await bindUnique(router, transport));
      for (let i = 0; i < 4; i++) await dealer.send(String(i));
      assert.deepEqual(await receiveStrings(routers[0]!, 2), [["rr", "0"], ["rr", "2"]]);
      assert.deepEqual(await receiveStrings(routers[1]!, 2), [["rr", "1"], ["rr", "3"]]);
      await routers[0]!.send(["rr", "from 0"]);
      await routers[1]!.send(["rr", "from 1"]);
      const replies = (await receiveStrings(dealer, 2)).map((m) => m[0]).sort();
      assert.deepEqual(replies, ["from 0", "from 1"]);
    });

    it("DEALER to DEALER: messages flow both ways with no envelope", T, async () => {
      const a = track(new Dealer());
      const b = track(new Dealer());
      b.connect(await bindUnique(a, transport));
      await b.send(["to a", ""]);
      assert.deepEqual(strings(await a.receive()), ["to a", ""]);
      await a.send("to b");
      assert.deepEqual(strings(await b.receive()), ["to b"]);
    });

    it("drops a message to an unknown routing id silently by default", T, async () => {
      const router = track(new Router());
      const dealer = track(new Dealer({ routingId: "known" }));
      dealer.connect(await bindUnique(router, transport));
      await dealer.send("hi");
      await router.receive();
      await router.send(["unknown", "lost"]);
      await router.send(["known", "kept"]);
      assert.deepEqual(strings(await dealer.receive()), ["kept"]);
    });

    it("mandatory: sending to an unknown routing id rejects with EHOSTUNREACH", T, async () => {
      const router = track(new Router({ mandatory: true }));
      const dealer = track(new Dealer({ routingId: "known" }));
      dealer.connect(await bindUnique(router, transport));
      await dealer.send("hi");
      await router.receive();
      await assert.rejects(
        router.send(["nobody", "x"]),
        (error: unknown) => error instanceof HostUnreachableError && error.code === "EHOSTUNREACH",
      );
      await router.send(["known", "still works"]);
      assert.deepEqual(strings(await dealer.receive()), ["still works"]);
    });

    it("mandatory: a peer that has left is unreachable (EHOSTUNREACH)", T, async () => {
      const router = track(new Router({ mandatory: true }));
      const address = await bindUnique(router, transport);
      const dealer = await dealerUp(address, { routingId: "leaver" });
      await dealer.send("bye");
      await router.receive();
      const left = nextEvent(router, "disconnect");
      dealer.close();
      await left;
      await assert.rejects(router.send(["leaver", "x"]), (error: unknown) => error instanceof HostUnreachableError);
    });

    it("ignores a message that is only a routing id", T, async () => {
      const router = track(new Router());
      const dealer = track(new Dealer({ routingId: "d" }));
      dealer.connect(await bindUnique(router, transport));
      await dealer.send("hi");
      await router.receive();
      await router.send(["d"]);
      await router.send(["d", "real"]);
      assert.deepEqual(strings(await dealer.receive()), ["real"]);
    });

    it("refuses a second peer with a routing id in use (ERR_ZMTP_DUPLICATE_ROUTING_ID)", T, async () => {
      const router = track(new Router());
      const address = await bindUnique(router, transport);
      const first = await dealerUp(address, { routingId: "dup" });
      await first.send("first");
      assert.deepEqual(strings(await router.receive()), ["dup", "first"]);

      const refused = nextEvent(router, "handshake:error:protocol");
      const second = track(new Dealer({ routingId: "dup" }));
      second.connect(address);
      void second.send("second").catch(() => {});
      const { error } = await refused;
      assert.equal(error.code, "ERR_ZMTP_DUPLICATE_ROUTING_ID");

      // The id still belongs to the first peer, both ways.
      await router.send(["dup", "for first"]);
      assert.deepEqual(strings(await first.receive()), ["for first"]);
      await first.send("again");
      assert.deepEqual(strings(await router.receive()), ["dup", "again"]);
      assert.equal(second.readable, false);
    });

    it("accepts a peer that comes back with its routing id after leaving", T, async () => {
      const router = track(new Router());
      const address = await bindUnique(router, transport);
      const before = await dealerUp(address, { routingId: "returning" });
      const left = nextEvent(router, "disconnect");
      before.close();
      await left;
      const after = track(new Dealer({ routingId: "returning" }));
      after.connect(address);
      await after.send("back again");
      assert.deepEqual(strings(await router.receive()), ["returning", "back again"]);
      await router.send(["returning", "welcome back"]);
      assert.deepEqual(strings(await after.receive()), ["welcome back"]);
    });

    it("handover: a new peer with a routing id in use takes it over", T, async () => {
      const router = track(new Router({ handover: true }));
      const address = await bindUnique(router, transport);
      // The old peer's clock never moves, so it does not reconnect and take the id back.
      const old = await dealerUp(address, { routingId: "h", clock: new FakeClock() });
      const oldGone = nextEvent(old, "disconnect").then(() => old.close());

      const fresh = track(new Dealer({ routingId: "h" }));
      const freshUp = nextEvent(fresh, "handshake");
      fresh.connect(address);
      await freshUp;
      await oldGone;
      await fresh.send("i am h now");
      assert.deepEqual(strings(await router.receive()), ["h", "i am h now"]);
      await router.send(["h", "to the new h"]);
      assert.deepEqual(strings(await fresh.receive()), ["to the new h"]);
    });

    it("ROUTER to ROUTER: connect({ routingId }) names the peer so the connecter can address it", T, async () => {
      const server = track(new Router({ routingId: "server" }));
      const address = await bindUnique(server, transport);
      const client = track(new Router({ routingId: "client", mandatory: true }));
      const up = nextEvent(client, "handshake");
      client.connect(address, { routingId: "server" });
      await up;
      await client.send(["server", "hello server"]);
      assert.deepEqual(strings(await server.receive()), ["client", "hello server"]);
      await server.send(["client", "hello client"]);
      assert.deepEqual(strings(await client.receive()), ["server", "hello client"]);
    });
  });
});
