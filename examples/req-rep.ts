/**
 * REQ/REP: a client asks, a server answers, strictly one at a time.
 *
 * ```
 *   REQ client --["add", "2", "3"]--> REP server
 *   REQ client <-------["5"]--------- REP server
 * ```
 * A Request socket must receive the reply before it sends again, and a
 * Reply socket must send the reply before it receives again; breaking that
 * lockstep rejects with EFSM (a StateError), as this example shows once.
 *
 * Run: npm run build && node dist/examples/req-rep.js
 */
import { Reply, Request, StateError } from "../src/index.js";

const server = new Reply();
await server.bind("tcp://127.0.0.1:0");
console.log(`server on ${server.lastEndpoint}`);

// The server loop: receive a request, send its reply, repeat. It ends when
// the socket is closed.
const serving = (async () => {
  for await (const [op, ...args] of server) {
    const numbers = args.map((frame) => Number(frame.toString()));
    const result = op!.toString() === "add" ? numbers.reduce((a, b) => a + b, 0) : numbers.reduce((a, b) => a * b, 1);
    console.log(`server: ${op} ${numbers.join(" ")} -> ${result}`);
    await server.send(String(result));
  }
})();

const client = new Request();
// connect() returns at once; a request sent before the connection is up
// waits in the socket's queue and goes out when it is.
client.connect(server.lastEndpoint!);

const questions: Array<[string, ...number[]]> = [["add", 2, 3], ["mul", 6, 7], ["add", 1, 2, 3, 4]];
for (const [op, ...numbers] of questions) {
  await client.send([op, ...numbers.map(String)]);
  const [answer] = await client.receive();
  console.log(`client: ${op}(${numbers.join(", ")}) = ${answer}`);
}

// Lockstep: a second request before the reply to the first is refused.
await client.send(["add", "40", "2"]);
try {
  await client.send(["add", "0", "0"]);
} catch (error) {
  if (!(error instanceof StateError)) throw error;
  console.log(`client: a second send before the reply fails with ${error.code}`);
}
const [late] = await client.receive();
console.log(`client: add(40, 2) = ${late}`);

client.close();
server.close();
await serving;
console.log("client: done");
