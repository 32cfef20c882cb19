/**
 * Add One over ipc with resource discovery (VLMessaging's second example).
 * The agent registers with its router's directory, d1, which is the
 * machine's local hub; d2 links to the hub, learns the entry by
 * replication, and the requester finds the agent through d2, without ever
 * being told its address.
 *
 * ```
 *   process 1: r1 ── d1 (hubListen ipc://@...hub) ── agent registers "AddOneAgent" (vnet "local")
 *                     ▲ replication over the hub link
 *   process 2: r2 ── d2 (hubs: [that endpoint]) ── conn: find "AddOneAgent", then ADD_ONE 41
 * ```
 *
 * Run: npm run build && node dist/examples/add-one-discovery-ipc.js
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

// A hub endpoint of our own, so two runs at once do not meet.
const HUB = `ipc://@switchboard-example-hub-${process.argv[3] ?? process.pid}`;

if (process.argv[2] === "--hub") {
  const r1 = new Router({ mode: VLM.MACHINE_MODE });
  const d1 = new Directory(r1, { hubListen: HUB });
  await Promise.all([r1.ready, d1.ready]);
  await new AddOneAgent(r1).start(VLM.LOCAL_VNET);
  process.send!("registered");
  process.once("message", () => {
    r1.shutdown();
    process.disconnect();
  });
} else {
  const child = fork(fileURLToPath(import.meta.url), ["--hub", String(process.pid)]);
  await once(child, "message");
  const r2 = new Router({ mode: VLM.MACHINE_MODE });
  new Directory(r2, { hubs: [HUB] });
  const conn = r2.newConnection();
  // Wait (up to 2 s) until the entry has come over from d1.
  const agentAddr = await findProvider(conn, "AddOneAgent", { waitMs: 2_000, pollMs: 50 });
  console.log(`d2 knows AddOneAgent at ${agentAddr.toString()}`);
  const reply = await conn.send<number>(new Msg(agentAddr, "ADD_ONE", 41), 2_000);
  if (reply.contents !== 42) throw new Error(`expected 42, got ${String(reply.contents)}`);
  console.log(`ADD_ONE 41 = ${reply.contents}`);
  child.send("stop");
  r2.shutdown();
  await Promise.all([r2.hasShutdown, once(child, "exit")]);
  console.log("both routers have shut down");
}
