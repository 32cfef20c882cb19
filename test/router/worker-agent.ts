// A worker thread with a router and the seed's Add One agent. Role
// "add-one": MACHINE mode, reached over ipc. Role "add-one-port": LOCAL
// mode, linked to the main thread over the MessagePort in workerData, with
// a Directory where the agent registers as "AddOne". It posts the agent's
// address to the main thread, and shuts down when told.
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";
import { messaging } from "../../src/index.js";
import { addOneAgent } from "./add-one.js";

const { Directory, Router, VLM, provide } = messaging;
const data = workerData as { role?: string; port?: MessagePort } | undefined;

if (!isMainThread && parentPort && (data?.role === "add-one" || data?.role === "add-one-port")) {
  const port = parentPort;
  let router: messaging.Router;
  if (data.role === "add-one") {
    router = new Router({ mode: VLM.MACHINE_MODE });
    await router.ready;
  } else {
    router = new Router();
    new Directory(router, { heartbeatMs: 50 });
    await router.linkPort(data.port!, { toParent: true }).up;
  }
  const conn = addOneAgent(router);
  if (data.role === "add-one-port") await provide(conn, "AddOne", { heartbeatMs: 50, vnets: [VLM.LOCAL_VNET] });
  port.postMessage({ addr: conn.addr.toString() });
  port.on("message", () => {
    router.shutdown();
    port.close();
  });
}
