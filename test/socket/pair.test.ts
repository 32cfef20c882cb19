// PAIR contract, over every transport: one peer, both directions, and a
// second peer refused while the first is connected.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pair } from "../../src/index.js";
import { bindUnique, forEachTransport, laterEndpoint } from "../helpers/endpoints.js";
import { nextEvent, receiveStrings, settledWithin, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

forEachTransport((transport) => {
  describe(`PAIR over ${transport}`, () => {
    it("exchanges messages both ways", T, async () => {
      const a = track(new Pair());
      const b = track(new Pair());
      b.connect(await bindUnique(a, transport));
      await b.send("ping");
      assert.deepEqual(strings(await a.receive()), ["ping"]);
      await a.send(["pong", "", "!"]);
      assert.deepEqual(strings(await b.receive()), ["pong", "", "!"]);
    });

    it("lets both sides send at once without losing or reordering", T, async () => {
      const a = track(new Pair());
      const b = track(new Pair());
      b.connect(await bindUnique(a, transport));
      const count = 500;
      const sendAll = async (pair: Pair, tag: string): Promise<void> => {
        for (let i = 0; i < count; i++) await pair.send([tag, String(i)]);
      };
      const [fromB, fromA] = await Promise.all([
        receiveStrings(a, count), receiveStrings(b, count), sendAll(a, "a"), sendAll(b, "b"),
      ]);
      assert.deepEqual(fromB, Array.from({ length: count }, (_, i) => ["b", String(i)]));
      assert.deepEqual(fromA, Array.from({ length: count }, (_, i) => ["a", String(i)]));
    });

    it("queues on the connect side before the peer binds", T, async () => {
      const address = await laterEndpoint(transport);
      const b = track(new Pair());
      b.connect(address);
      await b.send("early");
      const a = track(new Pair());
      await a.bind(address);
      assert.deepEqual(strings(await a.receive()), ["early"]);
    });

    it("makes a bound Pair with no peer wait, then delivers to the peer that connects", T, async () => {
      const a = track(new Pair());
      const address = await bindUnique(a, transport);
      assert.equal(a.writable, false);
      const sent = a.send("for whoever comes");
      assert.equal(await settledWithin(sent), "pending");
      const b = track(new Pair());
      b.connect(address);
      await sent;
      assert.deepEqual(strings(await b.receive()), ["for whoever comes"]);
    });

    it("refuses a second peer while the first is connected", T, async () => {
      const a = track(new Pair());
      const address = await bindUnique(a, transport);
      const first = track(new Pair());
      const firstUp = nextEvent(first, "handshake");
      first.connect(address);
      await firstUp;

      const intruder = track(new Pair());
      // Refused either during the handshake or right after it, depending on the transport.
      const refused = Promise.race([
        nextEvent(intruder, "disconnect"),
        nextEvent(intruder, "handshake:error:protocol"),
      ]);
      intruder.connect(address);
      void intruder.send("intruder").catch(() => {});
      await refused;

      // The bound Pair still talks to the first peer, and only to it.
      await a.send("to first");
      assert.deepEqual(strings(await first.receive()), ["to first"]);
      await first.send("from first");
      assert.deepEqual(strings(await a.receive()), ["from first"]);
      assert.equal(intruder.readable, false);
    });

    it("keeps what a peer sent before it left readable", T, async () => {
      const a = track(new Pair());
      const b = track(new Pair());
      const up = nextEvent(b, "handshake");
      b.connect(await bindUnique(a, transport));
      await up;
      const gone = nextEvent(a, "disconnect");
      await b.send("last words");
      b.close();
      await gone;
      assert.deepEqual(strings(await a.receive()), ["last words"]);
    });

    it("takes a new peer after the first one leaves", T, async () => {
      const a = track(new Pair());
      const address = await bindUnique(a, transport);
      const first = track(new Pair());
      const firstUp = nextEvent(first, "handshake");
      first.connect(address);
      await firstUp;
      const gone = nextEvent(a, "disconnect");
      first.close();
      await gone;

      const second = track(new Pair());
      second.connect(address);
      await second.send("second here");
      assert.deepEqual(strings(await a.receive()), ["second here"]);
      await a.send("hello second");
      assert.deepEqual(strings(await second.receive()), ["hello second"]);
    });
  });
});
