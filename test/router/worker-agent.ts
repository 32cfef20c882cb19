// A worker thread with a MACHINE-mode router and the seed's Add One agent.
// It posts the agent's address to the main thread, and shuts down when told.
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { messaging } from "../../src/index.js";

const { Router, VLM } = messaging;

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === "add-one" && parentPort) {
  const port = parentPort;
  const router = new Router({ mode: VLM.MACHINE_MODE });
  const conn: messaging.Connection = router.newConnection(async (msg) => {
    if (msg.subject === "ADD_ONE") {
      await conn.send(msg.reply((msg.contents as number) + 1));
      return;
    }
    return [VLM.IGNORE_UNHANDLED_REPLIES, VLM.HANDLE_PING, VLM.HANDLE_DOES_NOT_UNDERSTAND];
  });
  await router.ready;
  port.postMessage({ addr: conn.addr.toString() });
  port.on("message", () => {
    router.shutdown();
    port.close();
  });
}
