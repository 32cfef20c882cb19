// Publish-subscribe against libzmq: XPUB subscription notifications in both
// directions, prefix filtering with sentinels, unsubscription and fan-out.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  assertFrames,
  connectTo,
  newProbe,
  other,
  primeSubscription,
  receiveData,
  Scope,
  SIDES,
  TRANSPORTS,
  withScope,
  type Side,
  type Sock,
  type SocketKind,
  type Transport,
} from "./harness.js";

type SubKind = Extract<SocketKind, "Subscriber" | "XSubscriber">;

function subscribe(sub: Sock, kind: SubKind, topic: string): Promise<void> | void {
  if (kind === "Subscriber") return sub.subscribe(topic);
  return sub.send(Buffer.concat([Buffer.from([1]), Buffer.from(topic, "latin1")]));
}

function unsubscribe(sub: Sock, kind: SubKind, topic: string): Promise<void> | void {
  if (kind === "Subscriber") return sub.unsubscribe(topic);
  return sub.send(Buffer.concat([Buffer.from([0]), Buffer.from(topic, "latin1")]));
}

async function prime(pub: Sock, sub: Sock, topic: string): Promise<void> {
  await primeSubscription((probe) => pub.send(probe), sub, newProbe(topic));
}

/** Receives `count` single-frame notifications and returns them sorted, as latin1 strings. */
async function notifications(xpub: Sock, count: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < count; i++) {
    const message = await xpub.receive();
    assert.equal(message.length, 1, "a subscription notification is a single frame");
    seen.push(message[0]!.toString("latin1"));
  }
  return seen.sort();
}

/** Opens `pubKind` on `pubSide` and `subKind` on the other side, connected over `transport`. */
async function openPubSub(
  scope: Scope,
  pubSide: Side,
  pubKind: SocketKind,
  subKind: SocketKind,
  pubBinds: boolean,
  transport: Transport,
): Promise<{ pub: Sock; sub: Sock }> {
  const pub = scope.open(pubSide, pubKind);
  const sub = scope.open(other(pubSide), subKind);
  const [binder, connecter] = pubBinds ? [pub, sub] : [sub, pub];
  connectTo(connecter, await scope.bind(binder, transport));
  return { pub, sub };
}

const SUB_KINDS: readonly SubKind[] = ["Subscriber", "XSubscriber"];

for (const xpubSide of SIDES) {
  for (const subKind of SUB_KINDS) {
    for (const xpubBinds of [true, false]) {
      for (const transport of TRANSPORTS) {
        const subName = subKind === "Subscriber" ? "SUB" : "XSUB";
        const binding = xpubBinds ? "XPUB binds" : `${subName} binds`;
        const name =
          `${xpubSide.name} XPUB sees subscribe and unsubscribe from ${other(xpubSide).name} ${subName} ` +
          `(${binding}, ${transport})`;
        test(name, { timeout: 15_000 }, () =>
          withScope(async (scope) => {
            const { pub: xpub, sub } = await openPubSub(scope, xpubSide, "XPublisher", subKind, xpubBinds, transport);
            await subscribe(sub, subKind, "weather");
            await subscribe(sub, subKind, "news");
            await prime(xpub, sub, "weather");
            assert.deepEqual(await notifications(xpub, 2), ["\x01news", "\x01weather"]);

            await xpub.send(["news/today", "rain"]);
            assertFrames(await receiveData(sub), ["news/today", "rain"], "subscriber received");

            // The unsubscription and the new subscription travel in order on
            // one connection; once the new one works the XPUB has seen both.
            await unsubscribe(sub, subKind, "weather");
            await subscribe(sub, subKind, "later");
            await prime(xpub, sub, "later");
            assert.deepEqual(await notifications(xpub, 2), ["\x00weather", "\x01later"]);
          }),
        );
      }
    }
  }
}

for (const pubSide of SIDES) {
  for (const pubBinds of [true, false]) {
    for (const transport of TRANSPORTS) {
      const binding = pubBinds ? "PUB binds" : "SUB binds";
      const name =
        `${pubSide.name} PUB to ${other(pubSide).name} SUB delivers only prefix matches ` +
        `(${binding}, ${transport})`;
      test(name, { timeout: 15_000 }, () =>
        withScope(async (scope) => {
          const { pub, sub } = await openPubSub(scope, pubSide, "Publisher", "Subscriber", pubBinds, transport);
          sub.subscribe("topic");
          await prime(pub, sub, "topic");

          await pub.send("nomatch");
          await pub.send("top");
          await pub.send(["TOPIC-upper", "case"]);
          await pub.send(["other", "topic"]);
          await pub.send(["topic-x", "part2"]);
          await pub.send("");
          await pub.send("topic-sentinel");
          assertFrames(await receiveData(sub), ["topic-x", "part2"], "first matching message");
          assertFrames(await receiveData(sub), ["topic-sentinel"], "nothing unmatched before the sentinel");

          sub.unsubscribe("topic");
          sub.subscribe("next");
          await prime(pub, sub, "next");
          await pub.send("topic-after-unsubscribe");
          await pub.send(["next-sentinel", ""]);
          assertFrames(await receiveData(sub), ["next-sentinel", ""], "unsubscribed topic is not delivered");
        }),
      );
    }
  }
}

for (const pubSide of SIDES) {
  test(`${pubSide.name} PUB fans out to two ${other(pubSide).name} SUBs by prefix (tcp)`, { timeout: 15_000 }, () =>
    withScope(async (scope) => {
      const pub = scope.open(pubSide, "Publisher");
      const endpoint = await scope.bind(pub, "tcp");
      const subA = scope.open(other(pubSide), "Subscriber");
      const subB = scope.open(other(pubSide), "Subscriber");
      subA.subscribe("a");
      subB.subscribe("b");
      subA.connect(endpoint);
      subB.connect(endpoint);
      await prime(pub, subA, "a");
      await prime(pub, subB, "b");

      for (const message of ["a1", "b1", "ab", "c1", "ba", "a-end", "b-end"]) await pub.send(message);
      const drain = async (sub: Sock): Promise<string[]> => {
        const got: string[] = [];
        for (;;) {
          const text = (await receiveData(sub))[0]!.toString();
          got.push(text);
          if (text.endsWith("-end")) return got;
        }
      };
      assert.deepEqual(await drain(subA), ["a1", "ab", "a-end"]);
      assert.deepEqual(await drain(subB), ["b1", "ba", "b-end"]);
    }),
  );
}
