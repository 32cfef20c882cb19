// PUB/SUB contract, over every transport: prefix matching, counted
// subscriptions, XPUB verbosity, XSUB subscriptions and upstream messages,
// invertMatching, welcome messages.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Publisher, Subscriber, XPublisher, XSubscriber, type XPublisherVerbosity } from "../../src/index.js";
import { bindUnique, forEachTransport } from "../helpers/endpoints.js";
import { nextEvent, primeSubscription, receiveStrings, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

const sub = (topic: string): Buffer => Buffer.concat([Buffer.from([1]), Buffer.from(topic)]);
const unsub = (topic: string): Buffer => Buffer.concat([Buffer.from([0]), Buffer.from(topic)]);
/** How XPUB shows a subscription message: "+topic" or "-topic". */
const show = (frames: Buffer[]): string => `${frames[0]![0] === 1 ? "+" : "-"}${frames[0]!.subarray(1).toString()}`;

/** A socket connected to `address`, once its handshake is done. */
async function connected<S extends Subscriber | XSubscriber>(socket: S, address: string): Promise<S> {
  track(socket);
  const up = nextEvent(socket, "handshake");
  socket.connect(address);
  await up;
  return socket;
}

forEachTransport((transport) => {
  describe(`PUB/SUB over ${transport}`, () => {
    it("delivers only messages whose first frame starts with a subscribed prefix", T, async () => {
      const pub = track(new Publisher());
      const s = track(new Subscriber());
      s.connect(await bindUnique(pub, transport));
      s.subscribe("news.");
      await primeSubscription((m) => pub.send(m), s, "news.");
      for (const topic of ["news.a", "sport.x", "news", "", "news.b", "NEWS.c"]) await pub.send([topic, "body"]);
      await pub.send("news.end");
      assert.deepEqual(await receiveStrings(s, 3), [["news.a", "body"], ["news.b", "body"], ["news.end"]]);
    });

    it("subscribe() with no prefix receives everything, including empty first frames", T, async () => {
      const pub = track(new Publisher());
      const s = track(new Subscriber());
      s.connect(await bindUnique(pub, transport));
      s.subscribe();
      await primeSubscription((m) => pub.send(m), s, "");
      await pub.send(["", "empty topic"]);
      await pub.send("anything");
      assert.deepEqual(await receiveStrings(s, 2), [["", "empty topic"], ["anything"]]);
    });

    it("unsubscribe() with no prefix cancels the subscription to everything", T, async () => {
      const pub = track(new Publisher());
      const s = track(new Subscriber());
      s.connect(await bindUnique(pub, transport));
      s.subscribe();
      await primeSubscription((m) => pub.send(m), s, "");
      s.unsubscribe();
      s.subscribe("only");
      await primeSubscription((m) => pub.send(m), s, "only");
      await pub.send(["other", "dropped"]);
      await pub.send(["only", "kept"]);
      assert.deepEqual(strings(await s.receive()), ["only", "kept"]);
    });

    it("matches binary prefixes byte for byte", T, async () => {
      const pub = track(new Publisher());
      const s = track(new Subscriber());
      s.connect(await bindUnique(pub, transport));
      s.subscribe(Buffer.from([0, 0xff]));
      await primeSubscription((m) => pub.send([Buffer.from([0, 0xff]), ...m]), s, "");
      await pub.send([Buffer.from([0, 0xfe, 1]), "no"]);
      await pub.send([Buffer.from([0, 0xff, 1]), "yes"]);
      const [topic, body] = await s.receive();
      assert.deepEqual([...topic!], [0, 0xff, 1]);
      assert.equal(body?.toString(), "yes");
    });

    it("counts subscriptions: subscribed twice and unsubscribed once still receives", T, async () => {
      const pub = track(new Publisher());
      const s = track(new Subscriber());
      s.connect(await bindUnique(pub, transport));
      s.subscribe("t");
      s.subscribe("t");
      s.unsubscribe("t");
      // Subscriptions travel in order: once "fence" is in effect, so is whatever "t" became.
      s.subscribe("fence");
      await primeSubscription((m) => pub.send(m), s, "fence");
      await pub.send(["t", "still subscribed"]);
      assert.deepEqual(strings(await s.receive()), ["t", "still subscribed"]);

      s.unsubscribe("t");
      s.subscribe("fence2");
      await primeSubscription((m) => pub.send(m), s, "fence2");
      await pub.send(["t", "not any more"]);
      await pub.send(["fence2", "end"]);
      assert.deepEqual(strings(await s.receive()), ["fence2", "end"]);
    });

    it("fans out to every matching subscriber", T, async () => {
      const pub = track(new Publisher());
      const address = await bindUnique(pub, transport);
      const subs = [track(new Subscriber()), track(new Subscriber()), track(new Subscriber())];
      for (const [i, s] of subs.entries()) {
        s.connect(address);
        s.subscribe(i === 2 ? "other" : "all");
        // A topic of its own to prime on, so no other subscriber sees the probes.
        s.subscribe(`own-${i}`);
        await primeSubscription((m) => pub.send(m), s, `own-${i}`);
      }
      await pub.send(["all", "1"]);
      await pub.send(["other", "2"]);
      assert.deepEqual(strings(await subs[0]!.receive()), ["all", "1"]);
      assert.deepEqual(strings(await subs[1]!.receive()), ["all", "1"]);
      assert.deepEqual(strings(await subs[2]!.receive()), ["other", "2"]);
    });

    it("a Subscriber receives from several publishers", T, async () => {
      const pubs = [track(new Publisher()), track(new Publisher())];
      const s = track(new Subscriber());
      s.subscribe("x");
      for (const pub of pubs) {
        s.connect(await bindUnique(pub, transport));
        await primeSubscription((m) => pub.send(m), s, "x");
      }
      await pubs[0]!.send(["x", "from 0"]);
      await pubs[1]!.send(["x", "from 1"]);
      const got = (await receiveStrings(s, 2)).map((m) => m[1]).sort();
      assert.deepEqual(got, ["from 0", "from 1"]);
    });

    it("a Publisher without subscribers never waits", T, async () => {
      const pub = track(new Publisher());
      await bindUnique(pub, transport);
      for (let i = 0; i < 100; i++) await pub.send(["nobody", String(i)]);
      assert.equal(pub.writable, true);
    });

    for (const verbosity of [null, "allSubs", "allSubsUnsubs"] as XPublisherVerbosity[]) {
      it(`XPublisher with verbosity ${String(verbosity)} reports the subscriptions it should`, T, async () => {
        const xpub = track(new XPublisher());
        xpub.verbosity = verbosity;
        const address = await bindUnique(xpub, transport);
        const a = await connected(new Subscriber(), address);
        const b = await connected(new Subscriber(), address);
        const seen: string[] = [];
        const expectNext = async (...expected: string[]): Promise<void> => {
          for (const _ of expected) seen.push(show(await xpub.receive()));
          assert.deepEqual(seen.slice(-expected.length), expected, `all seen: ${seen.join(" ")}`);
        };
        a.subscribe("t");
        await expectNext("+t");
        // Each step ends with a fresh topic from the same peer: it always
        // shows, and proves whether the step before it was reported.
        b.subscribe("t");
        b.subscribe("fb");
        await expectNext(...(verbosity === null ? [] : ["+t"]), "+fb");
        a.unsubscribe("t");
        a.subscribe("fa");
        await expectNext(...(verbosity === "allSubsUnsubs" ? ["-t"] : []), "+fa");
        b.unsubscribe("t");
        b.subscribe("fb2");
        await expectNext("-t", "+fb2");
      });
    }

    it("XPublisher reports the subscriptions of a subscriber that leaves as unsubscriptions", T, async () => {
      const xpub = track(new XPublisher());
      const address = await bindUnique(xpub, transport);
      const s = await connected(new Subscriber(), address);
      s.subscribe("leaving");
      assert.equal(show(await xpub.receive()), "+leaving");
      s.close();
      assert.equal(show(await xpub.receive()), "-leaving");
    });

    it("XSubscriber sends subscriptions as messages and passes other messages upstream", T, async () => {
      const xpub = track(new XPublisher());
      const xsub = await connected(new XSubscriber(), await bindUnique(xpub, transport));
      await xsub.send(sub("topic"));
      assert.equal(show(await xpub.receive()), "+topic");
      await xsub.send(["upstream", "message"]);
      assert.deepEqual(strings(await xpub.receive()), ["upstream", "message"]);
      await xpub.send(["topic.1", "data"]);
      await xpub.send(["unsubscribed", "data"]);
      await xpub.send(["topic.2", "data"]);
      assert.deepEqual(await receiveStrings(xsub, 2), [["topic.1", "data"], ["topic.2", "data"]]);
      await xsub.send(unsub("topic"));
      assert.equal(show(await xpub.receive()), "-topic");
    });

    it("XSubscriber subscriptions sent before the link is up take effect once it is", T, async () => {
      const pub = track(new Publisher());
      const address = await bindUnique(pub, transport);
      const xsub = track(new XSubscriber());
      await xsub.send(sub("early"));
      xsub.connect(address);
      await primeSubscription((m) => pub.send(m), xsub, "early");
      await pub.send(["early", "works"]);
      assert.deepEqual(strings(await xsub.receive()), ["early", "works"]);
    });

    it("invertMatching: a Publisher sends only what does NOT match (seen through an XSubscriber)", T, async () => {
      const pub = track(new Publisher());
      const xsub = await connected(new XSubscriber(), await bindUnique(pub, transport));
      await xsub.send(sub("skip"));
      // A peer without subscriptions matches nothing, so an inverted publisher
      // sends it everything: prime the subscription before inverting.
      await primeSubscription((m) => pub.send(m), xsub, "skip");
      pub.invertMatching = true;
      await pub.send(["skip.me", "no"]);
      await pub.send(["keep.me", "yes"]);
      assert.deepEqual(strings(await xsub.receive()), ["keep.me", "yes"]);
    });

    it("invertMatching on Publisher and Subscriber (as zeromq.js documents) delivers the non-matching messages", T, async () => {
      const pub = track(new Publisher());
      const s = track(new Subscriber());
      s.connect(await bindUnique(pub, transport));
      s.subscribe("skip");
      await primeSubscription((m) => pub.send(m), s, "skip");
      pub.invertMatching = true;
      // zeromq.js declares Subscriber.invertMatching; set it as a zeromq.js user would.
      (s as unknown as { invertMatching: boolean }).invertMatching = true;
      await pub.send(["skip.me", "no"]);
      await pub.send(["keep.me", "yes"]);
      assert.deepEqual(strings(await s.receive()), ["keep.me", "yes"]);
    });

    it("XPublisher sends its welcome message to each new subscriber", T, async () => {
      const xpub = track(new XPublisher());
      xpub.welcomeMessage = "welcome";
      const address = await bindUnique(xpub, transport);
      const s = track(new Subscriber());
      s.subscribe("wel");
      s.connect(address);
      assert.deepEqual(strings(await s.receive()), ["welcome"]);
      const xsub = track(new XSubscriber());
      xsub.connect(address);
      assert.deepEqual(strings(await xsub.receive()), ["welcome"]);
    });
  });
});
