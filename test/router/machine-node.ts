// One simulated machine's process for the network tests: a NETWORK-mode
// router with a Directory (a hub, a hub client, or both), optionally an
// Add One provider that says who answered. Driven by its parent over the
// child-process channel: { id, op, ... } in, { id, ... } out.
import { messaging, type SwitchboardError } from "../../src/index.js";

const { Address, Directory, Msg, Router, ServiceClient, VLM, provide } = messaging;

export interface NodeConfig {
  name: string;
  machineId: number;
  vnets: string[];
  netListen?: string;
  netHubs?: string[];
  hubListen?: string;
  hubs?: string[];
  /** Provide this service (an Add One that answers { sum, by: name }). */
  provide?: string;
  /** Directory and provider heartbeat, ms. */
  heartbeatMs: number;
}

export type Command =
  | { id: number; op: "entries"; service: string }
  | { id: number; op: "request"; service: string; n: number; timeoutMs: number }
  | { id: number; op: "send"; addr: string; n: number; timeoutMs: number }
  | { id: number; op: "peers" };

if (process.argv[2] === "--node" && process.send) {
  const config = JSON.parse(process.argv[3]!) as NodeConfig;
  const send = (value: unknown): void => void process.send!(value);
  const router = new Router({ mode: VLM.NETWORK_MODE, machineId: config.machineId });
  const options: messaging.DirectoryOptions = { vnets: config.vnets, heartbeatMs: config.heartbeatMs, link: { heartbeatMs: config.heartbeatMs } };
  if (config.netListen) options.netListen = config.netListen;
  if (config.netHubs) options.netHubs = config.netHubs;
  if (config.hubListen) options.hubListen = config.hubListen;
  if (config.hubs) options.hubs = config.hubs;
  const directory = new Directory(router, options);
  await Promise.all([router.ready, directory.ready]);
  const conn = router.newConnection();
  let providerAddr: string | undefined;
  if (config.provide) {
    const agent: messaging.Connection = router.newConnection(async (msg) => {
      if (msg.subject !== "ADD_ONE") return [VLM.IGNORE_UNHANDLED_REPLIES, VLM.HANDLE_PING, VLM.HANDLE_DOES_NOT_UNDERSTAND];
      await agent.send(msg.reply({ sum: (msg.contents as number) + 1, by: config.name }));
      return;
    });
    await provide(agent, config.provide, { vnets: config.vnets, heartbeatMs: config.heartbeatMs });
    providerAddr = agent.addr.toString();
  }
  const clients = new Map<string, messaging.ServiceClient>();
  const failure = (error: unknown): { ok: false; code: string; message: string } => ({
    ok: false,
    code: (error as SwitchboardError).code ?? "UNKNOWN",
    message: (error as Error).message,
  });
  process.on("message", (command: Command) => {
    const started = performance.now();
    const done = (value: object): void => send({ id: command.id, ms: performance.now() - started, ...value });
    switch (command.op) {
      case "entries":
        return done({ addrs: directory.query({ service: command.service }).map((e) => e.addr.toString()).sort() });
      case "peers":
        return done({ peers: directory.peerKeys.sort() });
      case "request": {
        let client = clients.get(command.service);
        if (!client) {
          client = new ServiceClient(conn, command.service, { requestTimeoutMs: command.timeoutMs, waitMs: command.timeoutMs, pollMs: 20 });
          clients.set(command.service, client);
        }
        client.request<{ sum: number; by: string }>("ADD_ONE", command.n).then((reply) => done({ ok: true, ...reply.contents! }), (e: unknown) => done(failure(e)));
        return;
      }
      case "send":
        conn.send<{ sum: number; by: string }>(new Msg(Address.parse(command.addr), "ADD_ONE", command.n), command.timeoutMs)
          .then((reply) => done({ ok: true, ...reply.contents! }), (e: unknown) => done(failure(e)));
        return;
    }
  });
  process.on("disconnect", () => {
    router.shutdown();
    process.exit(0);
  });
  send({ ready: true, netEndpoint: directory.netEndpoint, hubEndpoint: directory.hubEndpoint, providerAddr, routerId: router.routerId });
}
