/**
 * An identity relay: messages come in on one socket, their data goes out to
 * every subscriber on a second (publish) socket, and each sender gets an "ok"
 * addressed to it by identity.
 *
 * ```
 *   producer --"<id>\0<data>"--> sock1 (bind) relay sock2 (bind, publish) --<data>--> listener
 *   producer <--"<id>\0ok"------ sock1 (to the sender's identity)
 * ```
 * `recvIdentity()` gives each message with the identity of the socket that
 * sent it; `send(data, { identity })` goes to that peer only, whatever the
 * socket's send mode. sock1 could have thousands of producers and sock2
 * thousands of listeners.
 *
 * Run: npm run build && node dist/examples/smart-identity-relay.js
 */
import { SmartSocket } from "../src/index.js";

const READINGS = ["20.5 C", "21.0 C", "19.8 C"];

const sock1 = new SmartSocket();
const sock2 = new SmartSocket({ sendMode: "publish" });
const inbound = await sock1.bind("tcp://127.0.0.1:0");
const outbound = await sock2.bind("tcp://127.0.0.1:0");
console.log(`relay: producers connect to ${inbound}, listeners to ${outbound}`);

const relaying = (async () => {
  let forwarded = 0;
  for await (const [peer, msg] of sock1.identityMessages()) {
    // Each message is <id>\0<data>.
    const split = msg.indexOf(0);
    const id = msg.subarray(0, split);
    const data = msg.subarray(split + 1);
    await sock2.send(data); // to every listener
    await sock1.send(Buffer.concat([id, Buffer.from("\0ok")]), { identity: peer }); // to the sender only
    forwarded++;
  }
  console.log(`relay: forwarded ${forwarded} messages, done`);
})();

// A listener on the publish side; wait until the relay has it, so it hears everything.
const listener = new SmartSocket();
const listening = new Promise((resolve) => sock2.events.once("connect", resolve));
await listener.connect(outbound);
await listening;

const producer = new SmartSocket();
await producer.connect(inbound);
for (const [i, reading] of READINGS.entries()) {
  await producer.send(`${i + 1}\0reading ${i + 1}: ${reading}`);
  const reply = await producer.recvString();
  const [id, status] = reply.split("\0");
  console.log(`producer: relay acknowledged ${id} (${status})`);
  console.log(`listener: got "${await listener.recvString()}"`);
}

await producer.close();
await listener.close();
await sock2.close();
await sock1.close();
await relaying;
