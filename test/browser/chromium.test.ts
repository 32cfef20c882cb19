// A real browser as a peer: headless Chromium loads a page served on
// localhost whose script imports the browser client (switchboard/browser),
// connects by WebSocket, sends a message and reports what came back. The
// page reports to the test server, so the test awaits that report, not
// time. Chromium is Debian's package (.ci/run installs it).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { sniffFirstByte, WebSocketUpgrader } from "../../src/transport/websocket.js";

const CHROMIUM = process.env.CHROMIUM ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const CLIENT_JS = fileURLToPath(new URL("../../src/browser/smart-client.js", import.meta.url));
const T = { timeout: 60_000 };

const frame = (type: number, body: Buffer): Buffer => {
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(1 + body.length, 0);
  out[4] = type;
  body.copy(out, 5);
  return out;
};

/**
 * The peer the page talks to: a bind port that takes raw and WebSocket
 * streams, speaking aiomsg v1 (HELLO, then "echo: " + every DATA payload).
 */
async function echoPeer(identity: Buffer): Promise<{ server: net.Server; port: number; close(): void }> {
  const upgrader = new WebSocketUpgrader({ maxPayload: 1024 * 1024 });
  const server = net.createServer(async (sock) => {
    sock.on("error", () => {});
    if ((await sniffFirstByte(sock)) !== 0x47) return void sock.destroy();
    const stream = await upgrader.upgrade(sock).catch(() => undefined);
    if (!stream) return;
    stream.on("error", () => {});
    stream.write(frame(0x01, Buffer.concat([Buffer.from([0x01]), identity])));
    let buffered = Buffer.alloc(0);
    stream.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        const length = buffered.readUInt32BE(0);
        const type = buffered[4];
        const body = buffered.subarray(5, 4 + length);
        if (type === 0x03) stream.write(frame(0x03, Buffer.concat([Buffer.from("echo: "), body])));
        buffered = buffered.subarray(4 + length);
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as net.AddressInfo).port, close: () => (upgrader.close(), server.close()) };
}

/** Serves the page and the client module; resolves `report` with what the page posts to /report. */
async function pageServer(wsUrl: string): Promise<{ server: Server; url: string; report: Promise<Record<string, string>> }> {
  let deliver!: (value: Record<string, string>) => void;
  const report = new Promise<Record<string, string>>((resolve) => (deliver = resolve));
  const page = `<!doctype html><meta charset="utf-8"><title>switchboard browser peer</title>
<script type="module">
import { SmartClient } from "/smart-client.js";
const send = (r) => fetch("/report", { method: "POST", body: JSON.stringify(r) });
try {
  const client = await SmartClient.connect(${JSON.stringify(wsUrl)});
  client.send("ping from the browser");
  const reply = new TextDecoder().decode(await client.recv());
  const peer = [...client.peerIdentity].map((b) => b.toString(16).padStart(2, "0")).join("");
  client.close();
  await send({ reply, peer, userAgent: navigator.userAgent });
} catch (error) {
  await send({ error: String(error) });
}
</script>`;
  const server = createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end(page);
    } else if (req.url === "/smart-client.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(readFileSync(CLIENT_JS));
    } else if (req.url === "/report" && req.method === "POST") {
      let body = "";
      req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on("end", () => {
        res.writeHead(204).end();
        deliver(JSON.parse(body) as Record<string, string>);
      });
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, report };
}

describe("a browser peer (headless Chromium)", () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("the page connects by WebSocket and exchanges messages both ways", T, async () => {
    assert.ok(CHROMIUM, "Chromium is needed for this test: apt-get install chromium (or set CHROMIUM to its path)");
    const identity = Buffer.alloc(16, 0x5a);
    const peer = await echoPeer(identity);
    cleanups.push(() => peer.close());
    const pages = await pageServer(`ws://127.0.0.1:${peer.port}/`);
    cleanups.push(() => pages.server.close());
    const profile = mkdtempSync(join(tmpdir(), "switchboard-chromium-"));
    cleanups.push(() => rmSync(profile, { recursive: true, force: true, maxRetries: 5 }));
    const browser: ChildProcess = spawn(CHROMIUM!, [
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--no-default-browser-check", `--user-data-dir=${profile}`, pages.url,
    ], { stdio: "ignore", detached: true }); // its own process group: the renderers go with it
    cleanups.push(async () => {
      // Chromium must be gone before its profile directory is removed.
      const gone = browser.exitCode === null && browser.signalCode === null ? once(browser, "exit") : undefined;
      try {
        process.kill(-browser.pid!, "SIGKILL");
      } catch {
        // The whole group is gone already.
      }
      await gone;
    });
    const exited = once(browser, "exit").then(([code]): Record<string, string> => ({ error: `chromium exited with ${String(code)} before the page reported` }));
    const report: Partial<Record<string, string>> = await Promise.race([pages.report, exited]);
    assert.equal(report.error, undefined, report.error);
    assert.equal(report.reply, "echo: ping from the browser");
    assert.equal(report.peer, identity.toString("hex"));
    assert.match(report.userAgent ?? "", /HeadlessChrome|Chrome/);
  });
});
