/**
 * XSUB/XPUB proxy: a forwarder between many publishers and many subscribers,
 * so that each side knows one address (the proxy's) instead of every peer.
 *
 * ```
 *   PUB weather --+                                    +--> SUB "weather."
 *                 +--> XSUB frontend | XPUB backend ---+
 *   PUB sports  --+         proxy                      +--> SUB "sports." + "weather.oslo"
 *
 *   messages:      publishers -> XSUB -> XPUB -> subscribers
 *   subscriptions: subscribers -> XPUB -> XSUB -> publishers  (as \x01topic / \x00topic)
 * ```
 * The XPUB hands the proxy each subscription as a message (first byte 1 =
 * subscribe, 0 = unsubscribe, then the topic); sending it on the XSUB passes
 * it on to every publisher, so filtering still happens at the publishers.
 *
 * Run: npm run build && node dist/examples/xpub-xsub-proxy.js
 */
import { setTimeout as delay } from "node:timers/promises";
import { Publisher, Subscriber, XPublisher, XSubscriber } from "../src/index.js";

const WANTED = 4;

// --- the proxy ---------------------------------------------------------------

const frontend = new XSubscriber();
await frontend.bind("tcp://127.0.0.1:0");
const backend = new XPublisher();
await backend.bind("tcp://127.0.0.1:0");
console.log(`proxy: publishers connect to ${frontend.lastEndpoint}, subscribers to ${backend.lastEndpoint}`);

/** Copies messages from one socket to the other until either is closed. */
async function forward(
  from: XSubscriber | XPublisher,
  to: XSubscriber | XPublisher,
  watch?: (message: Buffer[]) => void,
): Promise<number> {
  let count = 0;
  for await (const message of from) {
    if (to.closed) break;
    watch?.(message);
    await to.send(message);
    count++;
  }
  return count;
}

const downstream = forward(frontend, backend);
const upstream = forward(backend, frontend, (message) => {
  const first = message[0]!;
  if (message.length === 1 && (first[0] === 0 || first[0] === 1)) {
    const what = first[0] === 1 ? "subscribe" : "unsubscribe";
    console.log(`proxy: ${what} ${JSON.stringify(first.subarray(1).toString())}, passed on to the publishers`);
  }
});

// --- subscribers -------------------------------------------------------------

async function subscriber(name: string, ...topics: string[]): Promise<void> {
  const sub = new Subscriber();
  sub.subscribe(...topics);
  sub.connect(backend.lastEndpoint!);
  for (let i = 0; i < WANTED; i++) {
    const [topic, body] = (await sub.receive()).map((frame) => frame.toString());
    console.log(`${name}: ${topic} ${body}`);
    if (!topics.some((prefix) => topic!.startsWith(prefix))) throw new Error(`${name} got ${topic}`);
  }
  sub.close();
  console.log(`${name}: got ${WANTED} messages, done`);
}

const subscribers = Promise.all([
  subscriber("weather-watcher", "weather."),
  subscriber("sports-fan", "sports.", "weather.oslo"),
]);
let finished = false;
void subscribers.then(() => (finished = true));

// --- publishers --------------------------------------------------------------

async function publisher(topics: string[]): Promise<void> {
  const pub = new Publisher();
  pub.connect(frontend.lastEndpoint!);
  // Publish until the subscribers are done: a publisher cannot know when a
  // subscription has reached it (see pub-sub.ts), so it keeps publishing.
  for (let n = 0; !finished; n++) {
    await pub.send([topics[n % topics.length]!, `update #${n}`]);
    await delay(5);
  }
  pub.close();
}

await Promise.all([
  publisher(["weather.paris", "weather.oslo"]),
  publisher(["sports.tennis", "sports.chess"]),
  subscribers,
]);

frontend.close();
backend.close();
const [down, up] = await Promise.all([downstream, upstream]);
console.log(`proxy: forwarded ${down} messages down and ${up} subscriptions up, stopped`);
