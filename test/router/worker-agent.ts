// A worker thread with a MACHINE-mode router and the seed's Add One agent.
// It posts the agent's address to the main thread, and shuts down when told.
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { messaging } from "../../src/index.js";
import { addOneAgent } from "./add-one.js";

const { Router, VLM } = messaging;

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === "add-one" && parentPort) {
  const port = parentPort;
  const router = new Router({ mode: VLM.MACHINE_MODE });
  const conn = addOneAgent(router);
  await router.ready;
  port.postMessage({ addr: conn.addr.toString() });
  port.on("message", () => {
    router.shutdown();
    port.close();
  });
}
