// Add One between the main thread and a worker thread: each thread has its
// own router (MACHINE mode), with ids that cannot collide.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { messaging } from "../../src/index.js";

const { Address, Msg, Router, VLM } = messaging;

describe("routers in worker threads", () => {
  it("Add One between the main thread and a worker", { timeout: 20_000 }, async () => {
    const worker = new Worker(new URL("./worker-agent.js", import.meta.url), { workerData: { role: "add-one" } });
    const router = new Router({ mode: VLM.MACHINE_MODE });
    try {
      const [message] = (await once(worker, "message")) as [{ addr: string }];
      const addr = Address.parse(message.addr);
      assert.notEqual(addr.routerId, router.routerId, "thread-unique router ids");
      await router.ready;
      const conn = router.newConnection();
      const reply = await conn.send<number>(new Msg(addr, "ADD_ONE", 41), 5_000);
      assert.equal(reply.contents, 42);
      worker.postMessage("stop");
      await once(worker, "exit");
    } finally {
      router.shutdown();
      await worker.terminate();
    }
  });
});
