/**
 * The smart Socket's first demo: a server that sends the time, a client that
 * prints it. One Socket class for both ends; the only difference is that one
 * binds and the other connects.
 *
 * ```
 *   server (bind) --"the time is ..."--> client (connect)
 * ```
 * The server starts sending before anyone is connected: those messages wait
 * in its send buffer and go out, in order, when the client arrives. Both
 * ends run in this one process over tcp loopback; split them into two
 * programs and they work the same, and the client reconnects by itself if
 * the server restarts.
 *
 * Run: npm run build && node dist/examples/smart-time-server-client.js
 */
import { SmartSocket } from "../src/index.js";

const TICKS = 3;

// The server: bind (port 0 picks a free port), then send the time now and then.
const server = new SmartSocket();
const endpoint = await server.bind("tcp://127.0.0.1:0");
console.log(`server: bound to ${endpoint}`);
let sent = 0;
const tick = (): void => {
  sent++;
  // No peer yet? The message is buffered and flushed when one connects.
  void server.send(`tick ${sent}: the time is ${new Date().toISOString()}`);
  if (sent === TICKS) clearInterval(ticker);
};
const ticker = setInterval(tick, 50);
tick(); // the first one before any client exists

// The client: connect, then read messages as they come.
const client = new SmartSocket();
await client.connect(endpoint);
let received = 0;
for await (const msg of client.messages()) {
  console.log(`client: ${msg.toString()}`);
  if (++received === TICKS) break;
}
console.log(`client: got ${received} time messages, done`);

await client.close();
await server.close();
