/**
 * PUB/SUB: one publisher, two subscribers with different topics.
 *
 * ```
 *               +--> SUB "weather.paris"          (gets paris only)
 *   PUB --------+
 *               +--> SUB "weather." and "alert"   (gets every city and the alerts)
 * ```
 * A subscription is a prefix of the first frame; the publisher filters, so
 * a subscriber is never sent what it did not ask for.
 *
 * A publisher does not wait for anyone: what it publishes before a
 * subscriber's subscription has reached it is not sent to that subscriber
 * (the "slow joiner"). So this publisher publishes a reading every few
 * milliseconds, as a real feed would, until both subscribers have had enough.
 *
 * Run: npm run build && node dist/examples/pub-sub.js
 */
import { setTimeout as delay } from "node:timers/promises";
import { Publisher, Subscriber } from "../src/index.js";

const WANTED = 5;

const publisher = new Publisher();
await publisher.bind("tcp://127.0.0.1:0");
console.log(`publisher on ${publisher.lastEndpoint}`);

async function subscriber(name: string, ...topics: string[]): Promise<void> {
  const sub = new Subscriber();
  sub.subscribe(...topics);
  sub.connect(publisher.lastEndpoint!);
  console.log(`${name}: subscribed to ${topics.map((t) => JSON.stringify(t)).join(" and ")}`);
  for (let i = 0; i < WANTED; i++) {
    const [topic, body] = (await sub.receive()).map((frame) => frame.toString());
    console.log(`${name}: ${topic} ${body}`);
    if (!topics.some((prefix) => topic!.startsWith(prefix))) {
      throw new Error(`${name} got a topic it did not subscribe to: ${topic}`);
    }
  }
  sub.close();
  console.log(`${name}: got ${WANTED} messages, done`);
}

const subscribers = Promise.all([
  subscriber("paris-fan", "weather.paris"),
  subscriber("everything", "weather.", "alert"),
]);

let finished = false;
void subscribers.then(() => (finished = true));

// The feed: multipart messages [topic, body], published until both
// subscribers are done.
const cities = ["paris", "rome", "oslo"];
for (let n = 0; !finished; n++) {
  if (n % 4 === 3) {
    await publisher.send(["alert", `#${n}: storm warning`]);
  } else {
    const city = cities[n % cities.length]!;
    await publisher.send([`weather.${city}`, `#${n}: ${10 + (n % 7)} C`]);
  }
  await delay(5);
}
await subscribers;
publisher.close();
console.log("publisher: all subscribers done");
