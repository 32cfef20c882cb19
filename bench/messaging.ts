// Request/reply between two agents of the messaging layer: on one router,
// across worker threads, and across processes (MACHINE mode, ipc). Each
// path reports requests/s with 100 in flight, and p50/p99 of one request at
// a time.
import { fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { messaging } from "../src/index.js";
import { nowNs, percentile } from "./stats.js";

const { Address, Msg, Router, VLM } = messaging;
const AGENT = fileURLToPath(new URL("./messaging-agent.js", import.meta.url));

export interface MessagingResult {
  path: string;
  reqPerSec: number;
  p50Us: number;
  p99Us: number;
}

async function pipelined(conn: messaging.Connection, to: messaging.Address, total: number, inflight: number): Promise<number> {
  const started = nowNs();
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    let done = 0;
    const one = (): void => {
      if (sent >= total) return;
      sent++;
      conn.send(new Msg(to, "ECHO", 1), 10_000).then(() => {
        if (++done === total) resolve();
        else one();
      }, reject);
    };
    for (let i = 0; i < inflight; i++) one();
  });
  return total / ((nowNs() - started) / 1e9);
}

async function latency(conn: messaging.Connection, to: messaging.Address, count: number): Promise<[number, number]> {
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = nowNs();
    await conn.send(new Msg(to, "ECHO", 1), 10_000);
    samples[i] = (nowNs() - t0) / 1e3;
  }
  samples.sort();
  return [percentile(samples, 50), percentile(samples, 99)];
}

async function measure(path: string, to: messaging.Address, conn: messaging.Connection, quick: boolean): Promise<MessagingResult> {
  const n = quick ? 5_000 : 200_000;
  await pipelined(conn, to, Math.min(n, 20_000), 100); // warm-up
  const reqPerSec = await pipelined(conn, to, n, 100);
  const [p50Us, p99Us] = await latency(conn, to, quick ? 1_000 : 20_000);
  return { path, reqPerSec, p50Us, p99Us };
}

export async function runMessagingBench(quick: boolean): Promise<MessagingResult[]> {
  const results: MessagingResult[] = [];
  const router = new Router({ mode: VLM.MACHINE_MODE });
  await router.ready;
  try {
    const client = router.newConnection();
    const echo: messaging.Connection = router.newConnection((msg) => void echo.send(msg.reply(msg.contents)));
    results.push(await measure("one router", echo.addr, client, quick));

    const worker = new Worker(AGENT, { workerData: { role: "echo" } });
    try {
      const [w] = (await once(worker, "message")) as [{ addr: string }];
      results.push(await measure("worker thread (ipc)", Address.parse(w.addr), client, quick));
      worker.postMessage("stop");
    } finally {
      await worker.terminate();
    }

    const child = fork(AGENT, ["--process"], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] });
    try {
      const [c] = (await once(child, "message")) as [{ addr: string }];
      results.push(await measure("other process (ipc)", Address.parse(c.addr), client, quick));
      child.send("stop");
    } finally {
      child.kill("SIGKILL");
    }
  } finally {
    router.shutdown();
  }
  return results;
}
