/**
 * The aiomsg v1 cross-language conformance agent, for Switchboard's smart
 * Socket: the same command line as every other language's agent, so a
 * harness can pair it with any of them over loopback and check what the
 * sink printed.
 *
 * Run one agent (every flag as `--flag value`, booleans "true"/"false"):
 *
 *   npm run build && node dist/examples/aiomsg-agent.js --role bind --host 127.0.0.1 --port 25001 \
 *     --send-mode roundrobin --behavior sink --count 3 --delivery at-least-once
 *
 *   node dist/examples/aiomsg-agent.js --role connect --host 127.0.0.1 --port 25001 \
 *     --send-mode roundrobin --behavior source --count 3 --prefix msg- --delivery at-least-once --linger 1
 *
 * | flag | values |
 * |---|---|
 * | --role | bind, connect |
 * | --host, --port | address to bind or connect |
 * | --send-mode | publish, roundrobin |
 * | --behavior | source (send prefix + i for i < count), sink (print count lines, exit), echo (send back what arrives) |
 * | --count | messages sent by a source, expected by a sink, echoed by an echo (0: until --linger of quiet) |
 * | --prefix | a source's message prefix |
 * | --delivery | at-most-once, at-least-once |
 * | --identity | 32 hex chars; empty: generated |
 * | --linger | seconds a source or echo stays up after its last send |
 * | --tls | true, false; --tls-cert, --tls-key (bind); --tls-ca, --tls-server-name (connect) |
 *
 * A sink prints each payload as one UTF-8 line on stdout; diagnostics go to
 * stderr. Without arguments it runs a self-check: a bind sink and a connect
 * source, each in its own process.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { smart } from "../src/index.js";

const FLAGS = {
  role: { type: "string" },
  host: { type: "string", default: "127.0.0.1" },
  port: { type: "string" },
  "send-mode": { type: "string", default: "roundrobin" },
  behavior: { type: "string" },
  count: { type: "string", default: "0" },
  prefix: { type: "string", default: "" },
  delivery: { type: "string", default: "at-most-once" },
  identity: { type: "string", default: "" },
  linger: { type: "string", default: "1" },
  tls: { type: "string", default: "false" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string" },
  "tls-server-name": { type: "string" },
} as const;

function fail(message: string): never {
  process.stderr.write(`aiomsg-agent: ${message}\n`);
  process.exit(2);
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) fail(`--${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  return value as T;
}

async function agent(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true });
  const role = oneOf("role", values.role, ["bind", "connect"] as const);
  const behavior = oneOf("behavior", values.behavior, ["source", "sink", "echo"] as const);
  const sendMode = oneOf("send-mode", values["send-mode"], ["publish", "roundrobin"] as const);
  const delivery = oneOf("delivery", values.delivery, ["at-most-once", "at-least-once"] as const);
  const tls = oneOf("tls", values.tls, ["true", "false"] as const) === "true";
  const port = Number(values.port);
  const count = Number(values.count);
  const lingerMs = Number(values.linger) * 1000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a port number, got ${JSON.stringify(values.port)}`);
  if (!Number.isInteger(count) || count < 0) fail(`--count must be an integer >= 0, got ${JSON.stringify(values.count)}`);
  if (!(lingerMs >= 0)) fail(`--linger must be a number of seconds, got ${JSON.stringify(values.linger)}`);
  if (values.identity !== "" && !/^[0-9a-fA-F]{32}$/.test(values.identity)) fail("--identity must be 32 hex characters");
  const host = values.host;

  const options: smart.SocketOptions = { sendMode, delivery };
  if (values.identity !== "") options.identity = Buffer.from(values.identity, "hex");
  const sock = new smart.Socket(options);
  let where = `${host}:${port}`;
  if (role === "bind") {
    if (tls) {
      if (!values["tls-cert"] || !values["tls-key"]) fail("--tls true on the bind side needs --tls-cert and --tls-key");
      where = await sock.bind(smart.tlsBind(host, port, { cert: readFileSync(values["tls-cert"]), key: readFileSync(values["tls-key"]) }));
    } else {
      where = await sock.bind(host, port);
    }
  } else if (tls) {
    const tlsOptions: { ca?: Buffer; servername?: string } = {};
    if (values["tls-ca"]) tlsOptions.ca = readFileSync(values["tls-ca"]);
    if (values["tls-server-name"]) tlsOptions.servername = values["tls-server-name"];
    await sock.connect(smart.tlsConnect(host, port, tlsOptions));
  } else {
    await sock.connect(host, port);
  }
  process.stderr.write(`aiomsg-agent: ${role} ${where} ${behavior} ${sendMode} ${delivery}${tls ? " tls" : ""}\n`);

  const linger = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, lingerMs));
  if (behavior === "source") {
    for (let i = 0; i < count; i++) await sock.send(`${values.prefix}${i}`);
    await linger();
  } else if (behavior === "sink") {
    let seen = 0;
    if (count > 0) {
      for await (const message of sock.messages()) {
        process.stdout.write(`${message.toString("utf8")}\n`);
        if (++seen >= count) break;
      }
    }
  } else {
    let echoed = 0;
    let quiet: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      const rearm = (): void => {
        if (quiet) clearTimeout(quiet);
        quiet = setTimeout(resolve, lingerMs);
      };
      rearm();
      void (async () => {
        for await (const [identity, message] of sock.identityMessages()) {
          await sock.send(message, { identity });
          rearm();
          if (count > 0 && ++echoed >= count) break;
        }
      })();
    });
    await done;
  }
  await sock.close({ timeoutMs: Math.max(lingerMs, 1_000) });
}

/** Without arguments: a bind sink and a connect source, in two processes, as a harness would pair them. */
async function selfCheck(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const common = ["--host", "127.0.0.1", "--send-mode", "roundrobin", "--delivery", "at-least-once"];
  const sink = spawn(process.execPath, [self, "--role", "bind", "--port", "0", "--behavior", "sink", "--count", "3", ...common], { stdio: ["ignore", "pipe", "pipe"] });
  let printed = "";
  sink.stdout.setEncoding("utf8").on("data", (chunk: string) => (printed += chunk));
  // The sink says where it listens (port 0: the system chose) on stderr.
  const port = await new Promise<string>((resolve, reject) => {
    let said = "";
    sink.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      said += chunk;
      const match = /bind tcp:\/\/[^ ]*:(\d+) /.exec(said);
      if (match) resolve(match[1]!);
    });
    sink.once("exit", () => reject(new Error(`the sink exited before listening: ${said}`)));
  });
  const source = spawn(process.execPath, [self, "--role", "connect", "--port", port, "--behavior", "source", "--count", "3", "--prefix", "msg-", "--linger", "0.2", ...common], { stdio: ["ignore", "inherit", "ignore"] });
  const [[sinkCode], [sourceCode]] = await Promise.all([once(sink, "exit"), once(source, "exit")]);
  console.log(`self-check: the sink printed ${JSON.stringify(printed.split("\n").filter(Boolean).sort())}; exit codes ${String(sinkCode)} and ${String(sourceCode)}`);
  if (sinkCode !== 0 || sourceCode !== 0) process.exitCode = 1;
}

if (process.argv.length > 2) await agent(process.argv.slice(2));
else await selfCheck();
