/**
 * A publish echo server: every message any peer sends is sent back to every
 * connected peer, the sender included.
 *
 * ```
 *   alice --"hello from alice"--> echo (bind, publish) --> alice, bob
 *   bob   --"hello from bob"----> echo (bind, publish) --> alice, bob
 * ```
 * The server is the seed's whole program: a loop over `messages()` that
 * sends each one back with `sendMode: "publish"`. With "roundrobin" instead,
 * each echo would go to one peer only, taking turns.
 *
 * Run: npm run build && node dist/examples/smart-publish-echo.js
 */
import { SmartSocket } from "../src/index.js";

const echo = new SmartSocket({ sendMode: "publish" });
const endpoint = await echo.bind("tcp://127.0.0.1:0");
console.log(`echo: bound to ${endpoint}`);
const serving = (async () => {
  for await (const msg of echo.messages()) await echo.send(msg);
})();

// Two clients. Publish goes to the peers connected at the time of the send,
// so wait until the server has both before anyone speaks.
const bothConnected = new Promise<void>((resolve) => {
  echo.events.on("connect", () => {
    if (echo.peerCount === 2) resolve();
  });
});
const alice = new SmartSocket();
const bob = new SmartSocket();
await alice.connect(endpoint);
await bob.connect(endpoint);
await bothConnected;

await alice.send("hello from alice");
await bob.send("hello from bob");

// Each client hears both messages (the two senders race, so either order).
for (const [name, sock] of [["alice", alice], ["bob", bob]] as const) {
  const heard = [await sock.recvString(), await sock.recvString()].sort();
  for (const text of heard) console.log(`${name}: got "${text}"`);
}

await alice.close();
await bob.close();
await echo.close();
await serving; // the loop ends when the socket closes
console.log("echo: closed, done");
