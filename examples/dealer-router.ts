/**
 * DEALER/ROUTER: asynchronous request/reply with many requests in flight.
 *
 * ```
 *   DEALER client --[id, "job"]-------------> ROUTER server   receives [peer, id, "job"]
 *   DEALER client <-[id, "result"]----------- ROUTER server   sends    [peer, id, "result"]
 * ```
 * Unlike REQ/REP there is no lockstep: the client sends ten requests at
 * once, the server works on all of them concurrently and answers each when
 * it is done, so replies come back out of order. The client matches each
 * reply to its request by the id it put in the first frame. The server
 * answers through the routing id the ROUTER put in front of each request.
 *
 * Run: npm run build && node dist/examples/dealer-router.js
 */
import { setTimeout as delay } from "node:timers/promises";
import { Dealer, Router } from "../src/index.js";

const REQUESTS = 10;

const server = new Router();
await server.bind("tcp://127.0.0.1:0");
console.log(`server on ${server.lastEndpoint}`);

const serving = (async () => {
  const jobs: Array<Promise<void>> = [];
  for await (const [peer, id, word] of server) {
    // Do not await the job here: the next request is read at once.
    jobs.push(
      (async () => {
        // Pretend the work takes longer for shorter words.
        await delay(5 * (12 - word!.length));
        await server.send([peer!, id!, word!.toString().toUpperCase()]);
      })(),
    );
  }
  await Promise.all(jobs);
})();

const client = new Dealer();
client.connect(server.lastEndpoint!);

/** Requests waiting for their reply, by id. */
const pending = new Map<string, (reply: string) => void>();

const receiving = (async () => {
  let order = 0;
  for await (const [id, reply] of client) {
    console.log(`client: reply ${++order} is for request ${id}: ${reply}`);
    pending.get(id!.toString())?.(reply!.toString());
    pending.delete(id!.toString());
    if (pending.size === 0) return;
  }
})();

async function request(id: number, word: string): Promise<string> {
  const answer = new Promise<string>((resolve) => pending.set(String(id), resolve));
  // Concurrent send() calls are fine: they go out in call order.
  await client.send([String(id), word]);
  return answer;
}

const words = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg", "hhhhhhhh", "iiiiiiiii", "jjjjjjjjjj"];
const answers = Promise.all(words.slice(0, REQUESTS).map((word, i) => request(i + 1, word)));
console.log(`client: ${pending.size} requests in flight`);

const results = await answers;
await receiving;
console.log(`client: all ${results.length} replies received: ${results.join(" ")}`);

client.close();
server.close();
await serving;
