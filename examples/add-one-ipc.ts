/**
 * Add One over ipc (VLMessaging's first example): an agent on one router
 * answers ADD_ONE, a connection on another router asks it, with a timeout.
 *
 * ```
 *   process 1: router1 ── fred (AddOneAgent)
 *                 ▲ ipc (MACHINE mode: routers of one machine reach each other by address)
 *   process 2: router2 ── conn ──ADD_ONE 41──▶ fred.conn.addr ──▶ 42
 * ```
 * The agent's router runs in a child process (this file, started with
 * --agent), so the request really crosses processes.
 *
 * Run: npm run build && node dist/examples/add-one-ipc.js
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { messaging } from "../src/index.js";

const { Address, Msg, Router, VLM } = messaging;

class AddOneAgent {
  readonly conn: messaging.Connection;
  constructor(router: messaging.Router) {
    this.conn = router.newConnection((msg) => this.msgArrived(msg));
  }
  async msgArrived(msg: messaging.Msg): Promise<void> {
    if (msg.subject === "ADD_ONE") await this.conn.send(msg.reply((msg.contents as number) + 1));
    else throw new Error(`Unhandled subject: ${msg.subject}`);
  }
}

if (process.argv[2] === "--agent") {
  // Process 1: router1 and fred. Tells the parent fred's address, shuts down when told.
  const router1 = new Router({ mode: VLM.MACHINE_MODE });
  await router1.ready;
  const fred = new AddOneAgent(router1);
  process.send!({ addr: fred.conn.addr.toString() });
  process.once("message", () => {
    router1.shutdown();
    process.disconnect();
  });
} else {
  const child = fork(fileURLToPath(import.meta.url), ["--agent"]);
  const [{ addr }] = (await once(child, "message")) as [{ addr: string }];
  const router2 = new Router({ mode: VLM.MACHINE_MODE });
  const conn = router2.newConnection();
  const reply = await conn.send<number>(new Msg(Address.parse(addr), "ADD_ONE", 41), 1_000);
  if (reply.contents !== 42) throw new Error(`expected 42, got ${String(reply.contents)}`);
  console.log(`router2 -> ${addr}: ADD_ONE 41 = ${reply.contents}`);
  child.send("stop");
  router2.shutdown();
  await Promise.all([router2.hasShutdown, once(child, "exit")]);
  console.log("both routers have shut down");
}
