// A router's directory (one router, no hubs yet): register, find by service
// and params, filtered by vnet and perms, unregister; the seed's provider
// and requester patterns end to end.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addOneAgent } from "./add-one.js";
import { messaging, type SwitchboardError } from "../../src/index.js";

const { Address, Directory, Entry, Msg, Router, VLM, getEntries, registerEntry } = messaging;
const T = { timeout: 5_000 };

describe("Directory on one router", () => {
  it("a provider registers, a requester finds it and gets its answer", T, async () => {
    const router = new Router();
    try {
      new Directory(router);
      const agent = addOneAgent(router);
      await registerEntry(agent, new Entry(agent.addr, "AddOneAgent", null, [VLM.LOCAL_VNET]), 500);
      const conn = router.newConnection();
      const [entry, ...others] = await getEntries(conn, { service: "AddOneAgent", vnet: VLM.LOCAL_VNET }, 500);
      assert.equal(others.length, 0);
      assert.ok(entry!.addr.equals(agent.addr));
      const reply = await conn.send<number>(new Msg(entry!.addr, "ADD_ONE", 41), 1_000);
      assert.equal(reply.contents, 42);
    } finally {
      router.shutdown();
    }
  });

  it("matches service and params, and filters by vnet and perms", T, async () => {
    const router = new Router();
    try {
      new Directory(router);
      const conn = router.newConnection();
      const a = (n: number): messaging.Address => new Address(router.machineId, router.routerId, 100 + n);
      await registerEntry(conn, new Entry(a(1), "vol-surface", { ccy: "USD", "asset-class": "equity" }), 500);
      await registerEntry(conn, new Entry(a(2), "vol-surface", { ccy: "EUR", "asset-class": "equity" }), 500);
      await registerEntry(conn, new Entry(a(3), "vol-surface", { ccy: "USD" }, ["trading-game"]), 500);
      await registerEntry(conn, new Entry(a(4), "vol-surface", { ccy: "USD" }, null, ["traders"]), 500);
      const ids = async (query: messaging.EntryQuery): Promise<number[]> =>
        (await getEntries(conn, query, 500)).map((e) => e.addr.connectionId).sort();
      assert.deepEqual(await ids({ service: "vol-surface" }), [101, 102]);
      assert.deepEqual(await ids({ service: "vol-surface", params: { ccy: "USD" } }), [101]);
      assert.deepEqual(await ids({ service: "vol-surface", params: { ccy: "USD" }, vnet: "trading-game" }), [101, 103]);
      assert.deepEqual(await ids({ service: "vol-surface", params: { ccy: "USD" }, perms: ["traders"] }), [101, 104]);
      assert.deepEqual(await ids({ service: "other" }), []);
    } finally {
      router.shutdown();
    }
  });

  it("registering again replaces the entry; unregistering removes it", T, async () => {
    const router = new Router();
    try {
      const directory = new Directory(router);
      const conn = router.newConnection();
      await registerEntry(conn, new Entry(conn.addr, "svc", { v: 1 }), 500);
      await registerEntry(conn, new Entry(conn.addr, "svc", { v: 2 }), 500);
      assert.equal(directory.size, 1);
      assert.deepEqual((await getEntries(conn, { service: "svc" }, 500))[0]?.params, { v: 2 });
      const reply = await conn.send(new Msg(conn.directoryAddr, VLM.UNREGISTER_ENTRY, { addr: conn.addr.toJSON(), service: "svc" }), 500);
      assert.deepEqual(reply.contents, { removed: true });
      assert.deepEqual(await getEntries(conn, { service: "svc" }, 500), []);
    } finally {
      router.shutdown();
    }
  });

  it("a malformed entry is refused with EREMOTE (EINVAL at the directory); unknown subjects with EDOESNOTUNDERSTAND", T, async () => {
    const router = new Router();
    try {
      new Directory(router);
      const conn = router.newConnection();
      await assert.rejects(conn.send(new Msg(conn.directoryAddr, VLM.REGISTER_ENTRY, { service: 7 }), 500), (e: SwitchboardError) => e.code === "EREMOTE");
      await assert.rejects(conn.send(new Msg(conn.directoryAddr, "LIST_ALL"), 500), (e: SwitchboardError) => e.code === "EDOESNOTUNDERSTAND");
    } finally {
      router.shutdown();
    }
  });

  it("without a directory the router answers ENOTDELIVERED at once; a second directory, and hubs the router's mode cannot reach, are refused", T, async () => {
    const router = new Router();
    try {
      const conn = router.newConnection();
      await assert.rejects(getEntries(conn, { service: "x" }, 60_000), (e: SwitchboardError) => e.code === "ENOTDELIVERED");
      new Directory(router);
      assert.throws(() => new Directory(router), { code: "EINVAL" });
      const other = new Router();
      assert.throws(() => new Directory(other, { hubs: ["ipc:///tmp/hub"] }), { code: "EINVAL" });
      const machine = new Router({ mode: VLM.MACHINE_MODE });
      assert.throws(() => new Directory(machine, { netHubs: ["tcp://127.0.0.1:1"] }), { code: "EINVAL" });
      // Nothing was half-built: the refused routers still take a directory.
      new Directory(other);
      new Directory(machine);
      other.shutdown();
      machine.shutdown();
    } finally {
      router.shutdown();
    }
  });
});
