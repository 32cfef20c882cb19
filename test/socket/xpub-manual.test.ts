// XPublisher manual mode (ZMQ_XPUB_MANUAL): every subscription reaches the
// application, none applies by itself, and subscribe()/unsubscribe() apply
// them to the peer the application heard from last — so a subscription can
// be rewritten.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Subscriber, XPublisher, XSubscriber } from "../../src/index.js";
import { bindUnique, forEachTransport } from "../helpers/endpoints.js";
import { socketScope, strings } from "../helpers/sockets.js";

forEachTransport((t) => {
  describe(`XPublisher manual mode over ${t}`, () => {
    const track = socketScope();

    it("delivers subscriptions without applying them, and applies what the application subscribes", { timeout: 10_000 }, async () => {
      const xpub = track(new XPublisher({ manual: true }));
      const address = await bindUnique(xpub, t);
      // An XSubscriber does not filter what arrives, so what it receives is
      // exactly what the publisher decided to send it.
      const sub = track(new XSubscriber());
      sub.connect(address);
      await sub.send("\x01weather");

      // The raw subscription reaches the application...
      assert.deepEqual(strings(await xpub.receive()), ["\x01weather"]);
      // ...and was not applied: rewrite it to "news".
      xpub.subscribe("news");
      const received = sub.receive();
      // "weather" is not subscribed at the publisher, so only "news" goes out.
      await xpub.send("weather: sunny");
      await xpub.send("news: quiet");
      assert.deepEqual(strings(await received), ["news: quiet"]);
    });

    it("delivers duplicate subscriptions too, and unsubscribe() cancels what subscribe() applied", { timeout: 10_000 }, async () => {
      const xpub = track(new XPublisher({ manual: true }));
      const address = await bindUnique(xpub, t);
      const sub = track(new Subscriber());
      sub.connect(address);
      sub.subscribe("a");
      assert.deepEqual(strings(await xpub.receive()), ["\x01a"]);
      xpub.subscribe("a");
      sub.unsubscribe("a");
      assert.deepEqual(strings(await xpub.receive()), ["\x00a"]);
      xpub.unsubscribe("a");
      // With the subscription gone at the publisher, a later one for "b" is all the subscriber gets.
      sub.subscribe("b");
      assert.deepEqual(strings(await xpub.receive()), ["\x01b"]);
      xpub.subscribe("b");
      const received = sub.receive();
      await xpub.send("a1");
      await xpub.send("b1");
      assert.deepEqual(strings(await received), ["b1"]);
    });
  });
});
