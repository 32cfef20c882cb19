/**
 * Add One over tcp with resource discovery (VLMessaging's third example).
 * Two machines (simulated: two processes with different machine ids): d1
 * is a network hub on machine 1, d2 on machine 2 links to it over tcp.
 * Both serve the vnet "test"; the agent's entry is replicated to d2, and
 * the request and its reply travel over the same tcp link.
 *
 * ```
 *   machine 1: r1 ── d1 (netListen tcp://127.0.0.1:<port>, vnets ["test"]) ── agent
 *                     ▲ tcp: replication and messages
 *   machine 2: r2 ── d2 (netHubs: [that endpoint], vnets ["test"]) ── conn
 * ```
 *
 * Run: npm run build && node dist/examples/add-one-discovery-tcp.js
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { messaging } from "../src/index.js";

const { Directory, Entry, Msg, Router, VLM, findProvider } = messaging;

class AddOneAgent {
  readonly conn: messaging.Connection;
  constructor(router: messaging.Router) {
    this.conn = router.newConnection((msg) => this.msgArrived(msg));
  }
  async start(vnet: string): Promise<this> {
    const entry = new Entry(this.conn.addr, "AddOneAgent", null, [vnet], null);
    await this.conn.send(new Msg(this.conn.directoryAddr, VLM.REGISTER_ENTRY, entry.toJSON()), 500);
    return this;
  }
  async msgArrived(msg: messaging.Msg): Promise<void | readonly messaging.HandlerInstruction[]> {
    if (msg.subject === "ADD_ONE") await this.conn.send(msg.reply((msg.contents as number) + 1));
    else return [VLM.IGNORE_UNHANDLED_REPLIES, VLM.HANDLE_PING, VLM.HANDLE_DOES_NOT_UNDERSTAND];
  }
}

if (process.argv[2] === "--machine-1") {
  const r1 = new Router({ mode: VLM.NETWORK_MODE, machineId: 1 });
  // Port 0: the system picks a free port; d1.netEndpoint says which.
  const d1 = new Directory(r1, { vnets: ["test"], netListen: "tcp://127.0.0.1:0" });
  await Promise.all([r1.ready, d1.ready]);
  await new AddOneAgent(r1).start("test");
  process.send!({ hub: d1.netEndpoint });
  process.once("message", () => {
    r1.shutdown();
    process.disconnect();
  });
} else {
  const child = fork(fileURLToPath(import.meta.url), ["--machine-1"]);
  const [{ hub }] = (await once(child, "message")) as [{ hub: string }];
  const r2 = new Router({ mode: VLM.NETWORK_MODE, machineId: 2 });
  new Directory(r2, { vnets: ["test"], netHubs: [hub] });
  const conn = r2.newConnection();
  const agentAddr = await findProvider(conn, "AddOneAgent", { waitMs: 2_000, pollMs: 50 });
  console.log(`machine 2 found AddOneAgent at ${agentAddr.toString()} (machine ${agentAddr.machineId})`);
  const reply = await conn.send<number>(new Msg(agentAddr, "ADD_ONE", 41), 2_000);
  if (reply.contents !== 42) throw new Error(`expected 42, got ${String(reply.contents)}`);
  console.log(`ADD_ONE 41 = ${reply.contents}`);
  child.send("stop");
  r2.shutdown();
  await Promise.all([r2.hasShutdown, once(child, "exit")]);
  console.log("both routers have shut down");
}
