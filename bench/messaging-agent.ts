// The far side of the messaging bench, in a child process or a worker thread:
//
//   --process  a MACHINE-mode router with an echo connection (child process)
//   --raw      the raw baseline: a node:net echo server on a unix socket,
//              u32-BE length-prefixed frames, each chunk answered with one
//              write (the same echo as bench/raw.ts, over ipc)
//   --network <endpoint> <machineId>
//              another machine: a NETWORK-mode router linked to the bench's hub over tcp
//   worker     (workerData.role "echo") the router echo in a worker thread;
//              role "echo-port": a LOCAL router linked back over workerData.port
//
// A child process answers "cpu" with its process.cpuUsage(), so the bench
// can report CPU time per request on both sides; any other message stops it.
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";
import { messaging } from "../src/index.js";
import { echoFrames } from "./raw.js";

const { Router, VLM } = messaging;

/** What a child process tells the bench first. */
export type AgentHello = { addr: string } | { path: string };

async function serveRouter(): Promise<{ addr: string; stop: () => void }> {
  const router = new Router({ mode: VLM.MACHINE_MODE });
  const echo: messaging.Connection = router.newConnection((msg) => {
    void echo.send(msg.reply(msg.contents));
  });
  await router.ready;
  return { addr: echo.addr.toString(), stop: () => router.shutdown() };
}

/** Echoes every frame; all replies produced by one chunk go out in one write. */
async function serveRaw(): Promise<{ path: string; stop: () => void }> {
  const name = `switchboard-bench-raw-${process.pid}`;
  // Linux's abstract namespace, as the routers' ipc endpoints use.
  const path = process.platform === "linux" ? `\0${name}` : join(tmpdir(), `${name}.sock`);
  const server = net.createServer((sock) => {
    echoFrames(sock);
    sock.on("error", () => sock.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, resolve);
  });
  return { path, stop: () => server.close() };
}

/** Another machine: a NETWORK-mode router with its own machine id, linked to the hub at `endpoint` over tcp. */
async function serveNetwork(endpoint: string, machineId: number): Promise<{ addr: string; stop: () => void }> {
  const router = new Router({ mode: VLM.NETWORK_MODE, machineId });
  const echo: messaging.Connection = router.newConnection((msg) => {
    void echo.send(msg.reply(msg.contents));
  });
  await router.dial(endpoint, "network").up;
  return { addr: echo.addr.toString(), stop: () => router.shutdown() };
}

/** A worker's router linked to the main thread over the MessagePort in workerData (LOCAL mode: no sockets). */
async function servePort(port: MessagePort): Promise<{ addr: string; stop: () => void }> {
  const router = new Router();
  const echo: messaging.Connection = router.newConnection((msg) => {
    void echo.send(msg.reply(msg.contents));
  });
  await router.linkPort(port, { toParent: true }).up;
  return { addr: echo.addr.toString(), stop: () => router.shutdown() };
}

const mode = process.argv[2];
if ((mode === "--process" || mode === "--raw" || mode === "--network") && process.send) {
  const served = mode === "--raw" ? await serveRaw() : mode === "--network" ? await serveNetwork(process.argv[3]!, Number(process.argv[4])) : await serveRouter();
  const hello: AgentHello = "path" in served ? { path: served.path } : { addr: served.addr };
  process.send(hello);
  process.on("message", (message) => {
    if (message === "cpu") {
      process.send?.({ cpu: process.cpuUsage() });
      return;
    }
    served.stop();
    process.exit(0);
  });
  process.on("disconnect", () => process.exit(0));
} else if (!isMainThread && ["echo", "echo-port"].includes((workerData as { role?: string } | undefined)?.role ?? "") && parentPort) {
  const port = parentPort;
  const data = workerData as { role: string; port?: MessagePort };
  const served = data.role === "echo-port" ? await servePort(data.port!) : await serveRouter();
  port.postMessage({ addr: served.addr });
  port.on("message", () => {
    served.stop();
    port.close();
  });
}
