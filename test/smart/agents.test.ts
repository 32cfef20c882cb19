// Two Switchboard conformance agents (examples/aiomsg-agent.ts) against each
// other, as aiomsg's cross-language harness pairs agents: every role split,
// send mode and delivery option, with and without TLS. The sink must print
// exactly the source's messages; publish with at-least-once is refused.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { testCertificates } from "../helpers/tls-certs.js";

const AGENT = fileURLToPath(new URL("../../examples/aiomsg-agent.js", import.meta.url));
const COUNT = 20;
const T = { timeout: 30_000 };

let certDir: string | undefined;
function certFiles(): { cert: string; key: string; ca: string } {
  if (!certDir) {
    certDir = mkdtempSync(join(tmpdir(), "switchboard-agent-tls-"));
    const { cert, key, ca } = testCertificates();
    writeFileSync(join(certDir, "cert.pem"), cert);
    writeFileSync(join(certDir, "key.pem"), key);
    writeFileSync(join(certDir, "ca.pem"), ca);
  }
  return { cert: join(certDir, "cert.pem"), key: join(certDir, "key.pem"), ca: join(certDir, "ca.pem") };
}
after(() => certDir && rmSync(certDir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], onStderr?: (text: string) => void): { done: Promise<Run>; kill(): void } {
  const child = spawn(process.execPath, [AGENT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
    onStderr?.(stderr);
  });
  return { done: once(child, "exit").then(([code]) => ({ code: code as number | null, stdout, stderr })), kill: () => child.kill("SIGKILL") };
}

/** Starts the bind agent on port 0 and resolves the port it says it bound. */
async function bindAgent(args: string[]): Promise<{ port: string; done: Promise<Run>; kill(): void }> {
  let resolvePort!: (port: string) => void;
  const port = new Promise<string>((resolve) => (resolvePort = resolve));
  const agent = run(["--role", "bind", "--port", "0", ...args], (text) => {
    const match = /bind (?:tcp|tls):\/\/[^ ]*:(\d+) /.exec(text);
    if (match) resolvePort(match[1]!);
  });
  const failed = agent.done.then((r) => Promise.reject(new Error(`the bind agent exited (${String(r.code)}) before listening: ${r.stderr}`)));
  return { port: await Promise.race([port, failed]), done: agent.done, kill: agent.kill };
}

describe("conformance agents against each other", { concurrency: 4 }, () => {
  for (const tls of [false, true]) {
    for (const sendMode of ["roundrobin", "publish"]) {
      for (const delivery of ["at-most-once", "at-least-once"]) {
        for (const sinkSide of ["bind", "connect"]) {
          const name = `${sinkSide === "bind" ? "bind sink / connect source" : "bind source / connect sink"}, ${sendMode}, ${delivery}${tls ? ", tls" : ""}`;
          it(name, T, async () => {
            const common = ["--host", "127.0.0.1", "--send-mode", sendMode, "--delivery", delivery, "--count", String(COUNT)];
            const bindTls = tls ? ["--tls", "true", "--tls-cert", certFiles().cert, "--tls-key", certFiles().key] : [];
            const connectTls = tls ? ["--tls", "true", "--tls-ca", certFiles().ca, "--tls-server-name", "localhost"] : [];
            const source = ["--behavior", "source", "--prefix", "m", "--linger", "0.3"];
            const sink = ["--behavior", "sink"];
            if (sendMode === "publish" && delivery === "at-least-once") {
              // Refused before anything happens.
              const refused = await run(["--role", "bind", "--port", "0", ...common, ...source]).done;
              assert.notEqual(refused.code, 0);
              assert.match(refused.stderr, /publish|at-least-once/i);
              return;
            }
            const bound = await bindAgent([...common, ...bindTls, ...(sinkSide === "bind" ? sink : source)]);
            const connected = run(["--role", "connect", "--port", bound.port, ...common, ...connectTls, ...(sinkSide === "connect" ? sink : source)]);
            try {
              const [b, c] = await Promise.all([bound.done, connected.done]);
              const sinkRun = sinkSide === "bind" ? b : c;
              assert.equal(b.code, 0, `bind agent: ${b.stderr}`);
              assert.equal(c.code, 0, `connect agent: ${c.stderr}`);
              const lines = sinkRun.stdout.split("\n").filter(Boolean);
              assert.deepEqual([...lines].sort(), Array.from({ length: COUNT }, (_, i) => `m${i}`).sort());
              if (delivery === "at-most-once") assert.deepEqual(lines, Array.from({ length: COUNT }, (_, i) => `m${i}`), "in order");
            } finally {
              bound.kill();
              connected.kill();
            }
          });
        }
      }
    }
  }
});
