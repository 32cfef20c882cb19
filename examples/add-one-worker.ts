/**
 * Add One between the main thread and a worker thread, over a MessagePort
 * link: no sockets, and no MACHINE mode needed (both routers are LOCAL).
 *
 * ```
 *   main thread: router ── conn ──ADD_ONE 41──▶  MessagePort  ──▶ worker: router ── AddOneAgent
 * ```
 *
 * Run: npm run build && node dist/examples/add-one-worker.js
 */
import { once } from "node:events";
import { MessageChannel, Worker, isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";
import { messaging } from "../src/index.js";

const { Address, Msg, Router, VLM } = messaging;

class AddOneAgent {
  readonly conn: messaging.Connection;
  constructor(router: messaging.Router) {
    this.conn = router.newConnection((msg) => this.msgArrived(msg));
  }
  async msgArrived(msg: messaging.Msg): Promise<void | readonly messaging.HandlerInstruction[]> {
    if (msg.subject === "ADD_ONE") await this.conn.send(msg.reply((msg.contents as number) + 1));
    else return [VLM.IGNORE_UNHANDLED_REPLIES, VLM.HANDLE_PING, VLM.HANDLE_DOES_NOT_UNDERSTAND];
  }
}

if (isMainThread) {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL(import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
  const router = new Router();
  const link = router.linkPort(port1);
  const [[addr]] = await Promise.all([once(worker, "message") as Promise<[string]>, link.up]);
  const conn = router.newConnection();
  const reply = await conn.send<number>(new Msg(Address.parse(addr), "ADD_ONE", 41), 1_000);
  if (reply.contents !== 42) throw new Error(`expected 42, got ${String(reply.contents)}`);
  console.log(`main -> worker ${addr}: ADD_ONE 41 = ${reply.contents}`);
  worker.postMessage("stop");
  await once(worker, "exit");
  router.shutdown();
  console.log("worker exited, router shut down");
} else {
  const router = new Router();
  router.linkPort((workerData as { port: MessagePort }).port, { toParent: true });
  const agent = new AddOneAgent(router);
  parentPort!.postMessage(agent.conn.addr.toString());
  parentPort!.once("message", () => {
    router.shutdown();
    parentPort!.close();
  });
}
