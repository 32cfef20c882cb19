// Routers in worker threads: over ipc (MACHINE mode, thread-unique router
// ids) and over a MessagePort link (LOCAL mode), with the directories of
// both threads replicating over the port.
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { once } from "node:events";
import { describe, it } from "node:test";
import { MessageChannel, Worker } from "node:worker_threads";
import { messaging, type SwitchboardError } from "../../src/index.js";

const { Address, Directory, Msg, Router, VLM, findProvider } = messaging;
const T = { timeout: 20_000 };
const AGENT = new URL("./worker-agent.js", import.meta.url);

describe("routers in worker threads", () => {
  it("Add One between the main thread and a worker over ipc", T, async () => {
    const worker = new Worker(AGENT, { workerData: { role: "add-one" } });
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

  it("over a MessagePort: the main thread discovers the worker's agent, asks it, and learns at once when the worker is gone", T, async () => {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(AGENT, { workerData: { role: "add-one-port", port: port2 }, transferList: [port2] });
    const router = new Router();
    try {
      const directory = new Directory(router, { heartbeatMs: 50 });
      const link = router.linkPort(port1);
      const [[message]] = (await Promise.all([once(worker, "message"), link.up])) as [[{ addr: string }], void];
      assert.equal(link.scope, "machine");
      const conn = router.newConnection();
      // The worker's registration reaches this thread's directory over the port.
      const found = await findProvider(conn, "AddOne", { waitMs: 5_000, pollMs: 10 });
      assert.equal(found.toString(), message.addr);
      assert.deepEqual(directory.peerKeys, [`${found.machineId}:${found.routerId}`]);
      const reply = await conn.send<number>(new Msg(found, "ADD_ONE", 41), 5_000);
      assert.equal(reply.contents, 42);

      // The link going down is reported on the diagnostics channel; wait for it, not for time.
      const down = new Promise<void>((resolve) => {
        const onLink = (event: unknown): void => {
          if ((event as { up: boolean }).up) return;
          unsubscribe("switchboard:messaging:link", onLink);
          resolve();
        };
        subscribe("switchboard:messaging:link", onLink);
      });
      worker.postMessage("stop");
      await Promise.all([once(worker, "exit"), down]);
      const started = performance.now();
      await assert.rejects(conn.send(new Msg(found, "ADD_ONE", 1), 5_000), (e: SwitchboardError) => e.code === "ENOTDELIVERED");
      assert.ok(performance.now() - started < 1_000, "reported at once, not after the timeout");
      assert.deepEqual(directory.query({ service: "AddOne" }), [], "its entry left with the link");
    } finally {
      router.shutdown();
      await worker.terminate();
    }
  });
});
