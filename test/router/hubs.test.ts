// Directories linked through hubs, in one process (the links are real ipc
// and tcp connections; replication travels over them): LINK_HELLO's bytes,
// replication per vnet and scope, expiry driven by an injected clock, and a
// hub that restarts learning the entries again.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { messaging } from "../../src/index.js";
import { encodeMsg } from "../../src/router/codec.js";
import { helloMsg } from "../../src/router/peer-link.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { addOneAgent } from "./add-one.js";

const { Directory, Entry, Msg, Router, VLM, provide, registerEntry } = messaging;
const T = { timeout: 15_000 };
let unique = 0;
const ipcHub = (): string => `ipc://@switchboard-test-hubs-${process.pid}-${++unique}`;
const hex = (text: string): Buffer => Buffer.from(text.replace(/#.*$/gm, "").replace(/\s+/g, ""), "hex");

/** Waits (bounded) until `check` holds; the links are real I/O, so this waits on them, not on a fixed time. */
async function until(what: string, check: () => boolean, boundMs = 5_000): Promise<void> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > boundMs) assert.fail(`${what}: not within ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const services = (d: messaging.Directory, service: string, vnet?: string): string[] =>
  d.query(vnet ? { service, vnet } : { service }).map((e) => e.addr.toString()).sort();

describe("directories linked through hubs", () => {
  it("LINK_HELLO is encoded as docs/protocols/router.md shows", () => {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, "docs", "protocols", "router.md"))) dir = dirname(dir);
    const doc = readFileSync(join(dir, "docs", "protocols", "router.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Hub links"), doc.indexOf("\n## ", doc.indexOf("## Hub links") + 1));
    const shown = [...section.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => hex(m[1]!));
    assert.deepEqual(shown, [Buffer.from(encodeMsg(helloMsg({ machineId: 1, routerId: 3, directory: { vnets: ["test"] } })))]);
  });

  it("entries replicate per vnet; local-vnet entries cross the machine's ipc hub but never a tcp link", T, async () => {
    const hubEndpoint = ipcHub();
    const hub = new Router({ mode: VLM.NETWORK_MODE, machineId: 80 });
    const client = new Router({ mode: VLM.NETWORK_MODE, machineId: 80 });
    const remote = new Router({ mode: VLM.NETWORK_MODE, machineId: 81 });
    const other = new Router({ mode: VLM.NETWORK_MODE, machineId: 82 });
    try {
      const vnets = [VLM.LOCAL_VNET, "test"];
      const h = new Directory(hub, { vnets, hubListen: hubEndpoint, netListen: "tcp://127.0.0.1:0", heartbeatMs: 50 });
      await h.ready;
      const c = new Directory(client, { vnets, hubs: [hubEndpoint], heartbeatMs: 50 });
      const r = new Directory(remote, { vnets, netHubs: [h.netEndpoint!], heartbeatMs: 50 });
      const o = new Directory(other, { vnets: ["elsewhere"], netHubs: [h.netEndpoint!], heartbeatMs: 50 });
      const agent = client.newConnection();
      await registerEntry(agent, new Entry(agent.addr, "svc", { which: "local" }, [VLM.LOCAL_VNET]), 1_000);
      await registerEntry(agent, new Entry(new messaging.Address(80, client.routerId, 99), "svc", { which: "test" }, ["test"]), 1_000);
      await until("the remote directory learns the test-vnet entry", () => services(r, "svc").length === 1);
      await until("the hub holds both", () => services(h, "svc").length === 2);
      assert.deepEqual(services(r, "svc", "test"), [`80:${client.routerId}:99`]);
      assert.deepEqual(services(r, "svc", VLM.LOCAL_VNET), [], "the local vnet stays on machine 80");
      assert.equal(o.size, 0, "a directory serving other vnets is sent nothing");
      assert.deepEqual(c.peerKeys, [`80:${hub.routerId}`]);
    } finally {
      for (const router of [hub, client, remote, other]) router.shutdown();
    }
  });

  it("a provider that stops renewing expires from every directory within its ttl (injected clocks)", T, async () => {
    const hubEndpoint = ipcHub();
    const dirClock = new FakeClock(1_000);
    const providerClock = new FakeClock(1_000);
    const hub = new Router({ mode: VLM.MACHINE_MODE });
    const host = new Router({ mode: VLM.MACHINE_MODE });
    try {
      const h = new Directory(hub, { hubListen: hubEndpoint, clock: dirClock, heartbeatMs: 100 });
      await h.ready;
      new Directory(host, { hubs: [hubEndpoint], clock: dirClock, heartbeatMs: 100 });
      const agent = addOneAgent(host);
      await provide(agent, "AddOne", { vnets: [VLM.LOCAL_VNET], heartbeatMs: 100, ttlMs: 300, clock: providerClock });
      await until("the hub learns the provider", () => h.query({ service: "AddOne" }).length === 1);
      // A barrier: a PING from the host to the hub's directory travels the
      // same link as the host directory's updates, so once its PONG is back
      // the hub has applied every update sent before it.
      const probe = host.newConnection();
      const barrier = async (): Promise<void> => void (await probe.send(new Msg(h.conn.addr, VLM.PING), 5_000));
      const step = async (clocks: FakeClock[]): Promise<void> => {
        for (const clock of clocks) clock.tick(100);
        await new Promise((resolve) => setImmediate(resolve)); // let renewals and syncs go out
        await barrier();
      };
      for (let i = 0; i < 10; i++) await step([dirClock, providerClock]);
      assert.equal(h.query({ service: "AddOne" }).length, 1, "renewed every heartbeat, it stays for 1 s and more");
      // The provider falls silent: its clock stops, so no more renewals.
      let waited = 0;
      while (h.query({ service: "AddOne" }).length > 0) {
        await step([dirClock]);
        waited += 100;
        assert.ok(waited <= 500, `still there ${waited} ms after the last renewal (ttl 300 ms)`);
      }
      assert.ok(waited >= 200, `not before its ttl ran out (gone after ${waited} ms)`);
    } finally {
      hub.shutdown();
      host.shutdown();
    }
  });

  it("a hub that restarts on its endpoint learns every entry again from the directories linked to it", T, async () => {
    const hubEndpoint = ipcHub();
    let hub = new Router({ mode: VLM.MACHINE_MODE });
    const host = new Router({ mode: VLM.MACHINE_MODE });
    try {
      let h = new Directory(hub, { hubListen: hubEndpoint, heartbeatMs: 50 });
      await h.ready;
      new Directory(host, { hubs: [hubEndpoint], heartbeatMs: 50, link: { heartbeatMs: 50, reconnectMs: 20, reconnectMaxMs: 100 } });
      const agent = addOneAgent(host);
      await provide(agent, "AddOne", { vnets: [VLM.LOCAL_VNET], heartbeatMs: 50 });
      await until("the hub learns the provider", () => h.query({ service: "AddOne" }).length === 1);
      hub.shutdown();
      hub = new Router({ mode: VLM.MACHINE_MODE });
      h = new Directory(hub, { hubListen: hubEndpoint, heartbeatMs: 50 });
      await h.ready;
      const started = performance.now();
      await until("the new hub learns the provider", () => h.query({ service: "AddOne" }).length === 1);
      const conn = hub.newConnection();
      const [entry] = h.query({ service: "AddOne" });
      assert.equal((await conn.send<number>(new Msg(entry!.addr, "ADD_ONE", 1), 2_000)).contents, 2);
      assert.ok(performance.now() - started < 2_000);
    } finally {
      hub.shutdown();
      host.shutdown();
    }
  });
});
