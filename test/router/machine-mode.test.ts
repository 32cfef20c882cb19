// MACHINE mode: routers in different processes of one machine reach each
// other over ipc; a router that is not running, or is killed, is reported
// at once (ENOTDELIVERED), not after the request's timeout.
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { messaging, type SwitchboardError } from "../../src/index.js";

const { Address, Msg, Router, VLM } = messaging;
const AGENT = fileURLToPath(new URL("./machine-agent.js", import.meta.url));
const T = { timeout: 20_000 };

async function startAgent(): Promise<{ child: ChildProcess; addr: messaging.Address }> {
  const child = fork(AGENT, ["--machine-agent"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const [message] = (await once(child, "message")) as [{ addr: string }];
  return { child, addr: Address.parse(message.addr) };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: SwitchboardError) => {
    assert.equal(error.code, code, String(error));
    return true;
  });
}

describe("MACHINE mode across processes", () => {
  it("Add One between two processes", T, async () => {
    const { child, addr } = await startAgent();
    const router = new Router({ mode: VLM.MACHINE_MODE });
    try {
      await router.ready;
      const conn = router.newConnection();
      const reply = await conn.send<number>(new Msg(addr, "ADD_ONE", 41), 5_000);
      assert.equal(reply.contents, 42);
      // Many requests in flight, all answered.
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) => conn.send<number>(new Msg(addr, "ADD_ONE", i), 5_000)),
      );
      assert.deepEqual(replies.map((r) => r.contents), Array.from({ length: 200 }, (_, i) => i + 1));
      await rejectsWith(conn.send(new Msg(addr, "MULTIPLY"), 5_000), "EDOESNOTUNDERSTAND");
    } finally {
      router.shutdown();
      child.kill("SIGKILL");
    }
  });

  it("a router that is not running: ENOTDELIVERED at once", T, async () => {
    const router = new Router({ mode: VLM.MACHINE_MODE });
    try {
      await router.ready;
      const conn = router.newConnection();
      const started = performance.now();
      // A router id no process uses (ids of live processes are pid-based).
      const nobody = new Address(router.machineId, 1, 16);
      await rejectsWith(conn.send(new Msg(nobody, "ADD_ONE", 1), 60_000), "ENOTDELIVERED");
      assert.ok(performance.now() - started < 5_000, "reported well before the timeout");
    } finally {
      router.shutdown();
    }
  });

  it("a provider killed with SIGKILL: the next request fails with ENOTDELIVERED, well before its timeout", T, async () => {
    const { child, addr } = await startAgent();
    const router = new Router({ mode: VLM.MACHINE_MODE });
    try {
      await router.ready;
      const conn = router.newConnection();
      assert.equal((await conn.send<number>(new Msg(addr, "ADD_ONE", 1), 5_000)).contents, 2);
      child.kill("SIGKILL");
      await once(child, "exit");
      const started = performance.now();
      // The link may notice the death with this request or the next: either
      // way the failure is ENOTDELIVERED, or ETIMEDOUT only for a request
      // that was already on its way when the process died.
      let code = "";
      for (let attempt = 0; attempt < 3 && code !== "ENOTDELIVERED"; attempt++) {
        code = await conn.send(new Msg(addr, "ADD_ONE", 1), 1_000).then(
          () => "replied",
          (error: SwitchboardError) => error.code,
        );
        assert.notEqual(code, "replied");
      }
      assert.equal(code, "ENOTDELIVERED");
      assert.ok(performance.now() - started < 5_000);
    } finally {
      router.shutdown();
      child.kill("SIGKILL");
    }
  });
});
