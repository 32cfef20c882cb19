// The far agent of the messaging bench: a MACHINE-mode router with an echo
// connection, in a child process (--process) or a worker thread.
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { messaging } from "../src/index.js";

const { Router, VLM } = messaging;

async function serve(post: (addr: string) => void, onStop: (stop: () => void) => void): Promise<void> {
  const router = new Router({ mode: VLM.MACHINE_MODE });
  const echo: messaging.Connection = router.newConnection((msg) => {
    void echo.send(msg.reply(msg.contents));
  });
  await router.ready;
  post(echo.addr.toString());
  onStop(() => router.shutdown());
}

if (process.argv[2] === "--process" && process.send) {
  await serve(
    (addr) => process.send?.({ addr }),
    (stop) => {
      process.on("message", () => {
        stop();
        process.exit(0);
      });
      process.on("disconnect", () => process.exit(0));
    },
  );
} else if (!isMainThread && (workerData as { role?: string } | undefined)?.role === "echo" && parentPort) {
  const port = parentPort;
  await serve(
    (addr) => port.postMessage({ addr }),
    (stop) =>
      port.on("message", () => {
        stop();
        port.close();
      }),
  );
}
