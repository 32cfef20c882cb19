// A real browser as a peer: headless Chromium loads a page served on
// localhost whose script imports the browser client (switchboard/browser),
// connects by WebSocket, sends a message and reports what came back. The
// page reports to the test server, so the test awaits that report, not
// time. Its peer is a smart Socket bound with WebSocket on its port.
// Chromium is Debian's package (.ci/run installs it).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { smart } from "../../src/index.js";

const CHROMIUM = process.env.CHROMIUM ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const CLIENT_JS = fileURLToPath(new URL("../../src/browser/smart-client.js", import.meta.url));
const T = { timeout: 60_000 };

/** The peer the page talks to: a smart Socket serving raw and WebSocket peers on one port, echoing "echo: " + each message. */
async function echoPeer(identity: Buffer): Promise<{ port: number; close(): Promise<void> }> {
  const sock = new smart.Socket({ identity });
  const endpoint = await sock.bind("tcp+ws://127.0.0.1:0");
  void (async () => {
    for await (const [from, message] of sock.identityMessages()) {
      await sock.send(Buffer.concat([Buffer.from("echo: "), message]), { identity: from });
    }
  })();
  return { port: Number(endpoint.slice(endpoint.lastIndexOf(":") + 1)), close: () => sock.close() };
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
