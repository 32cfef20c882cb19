/**
 * PAIR: exactly two sockets, talking both ways.
 *
 * ```
 *   PAIR left <------------> PAIR right
 * ```
 * A Pair socket accepts one peer only; both sides may send and receive at
 * any time. Here the two sides play a short game of ping-pong.
 *
 * Run: npm run build && node dist/examples/pair.js
 */
import { Pair } from "../src/index.js";

const ROUNDS = 3;

const left = new Pair();
await left.bind("tcp://127.0.0.1:0");
const right = new Pair();
right.connect(left.lastEndpoint!);
console.log(`left on ${left.lastEndpoint}, right connected`);

// right answers every "ping n" with "pong n" until it gets "bye".
const answering = (async () => {
  for await (const [message] of right) {
    const text = message!.toString();
    console.log(`right: got "${text}"`);
    if (text === "bye") break;
    await right.send(text.replace("ping", "pong"));
  }
})();

for (let n = 1; n <= ROUNDS; n++) {
  await left.send(`ping ${n}`);
  const [reply] = await left.receive();
  console.log(`left: got "${reply}"`);
}
await left.send("bye");
await answering;
console.log(`left: ${ROUNDS} rounds of ping-pong done`);

left.close();
right.close();
