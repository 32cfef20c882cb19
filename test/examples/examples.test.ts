// Runs every compiled example program as a child process: each must exit by
// itself with code 0, print nothing on stderr, and print the lines that show
// its pattern did its job. The examples are what users copy, so a change in
// the library that breaks one of them fails here.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

/** The compiled examples sit next to the compiled tests (dist/examples or .out/NAME/examples). */
const EXAMPLES_DIR = fileURLToPath(new URL("../../examples/", import.meta.url));
/** Each example runs in well under a second; this bounds a hung one. */
const RUN_LIMIT_MS = 20_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runExample(file: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], {
      cwd: EXAMPLES_DIR,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: RUN_LIMIT_MS,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Lines of `output` that start with `prefix`. */
function linesOf(output: string, prefix: string): string[] {
  return output.split("\n").filter((line) => line.startsWith(prefix));
}

/** For each example: what its output must show. */
const EXPECTED: Record<string, (out: string) => void> = {
  "push-pull.js": (out) => {
    // Round-robin: ten tasks over two connected workers, five each.
    assert.match(out, /^sink: got all 10 results \(5 from worker-1, 5 from worker-2\)$/m);
  },
  "pub-sub.js": (out) => {
    assert.match(out, /^paris-fan: got 5 messages, done$/m);
    assert.match(out, /^everything: got 5 messages, done$/m);
    // Filtering: the subscriber to "weather.paris" sees paris only.
    const paris = linesOf(out, "paris-fan: weather.");
    assert.equal(paris.length, 5);
    for (const line of paris) assert.match(line, /^paris-fan: weather\.paris /);
  },
  "req-rep.js": (out) => {
    assert.match(out, /^client: add\(2, 3\) = 5$/m);
    assert.match(out, /^client: mul\(6, 7\) = 42$/m);
    assert.match(out, /^client: a second send before the reply fails with EFSM$/m);
    assert.match(out, /^client: add\(40, 2\) = 42$/m);
  },
  "dealer-router.js": (out) => {
    assert.match(out, /^client: 10 requests in flight$/m);
    assert.match(out, /^client: all 10 replies received: A BB CCC DDDD EEEEE FFFFFF GGGGGGG HHHHHHHH IIIIIIIII JJJJJJJJJJ$/m);
  },
  "pair.js": (out) => {
    assert.deepEqual(linesOf(out, "left: got"), ['left: got "pong 1"', 'left: got "pong 2"', 'left: got "pong 3"']);
    assert.match(out, /^left: 3 rounds of ping-pong done$/m);
  },
  "xpub-xsub-proxy.js": (out) => {
    for (const topic of ["weather.", "sports.", "weather.oslo"]) {
      assert.ok(out.includes(`proxy: subscribe "${topic}", passed on to the publishers\n`), `subscription ${topic}`);
    }
    assert.match(out, /^weather-watcher: got 4 messages, done$/m);
    assert.match(out, /^sports-fan: got 4 messages, done$/m);
    for (const line of linesOf(out, "sports-fan: ")) assert.doesNotMatch(line, /weather\.paris/);
    assert.match(out, /^proxy: forwarded \d+ messages down and \d+ subscriptions up, stopped$/m);
  },
  "add-one-ipc.js": (out) => {
    assert.match(out, /^router2 -> \d+:\d+:\d+: ADD_ONE 41 = 42$/m);
    assert.match(out, /^both routers have shut down$/m);
  },
  "add-one-discovery-ipc.js": (out) => {
    assert.match(out, /^d2 knows AddOneAgent at \d+:\d+:\d+$/m);
    assert.match(out, /^ADD_ONE 41 = 42$/m);
    assert.match(out, /^both routers have shut down$/m);
  },
  "add-one-discovery-tcp.js": (out) => {
    assert.match(out, /^machine 2 found AddOneAgent at 1:\d+:\d+ \(machine 1\)$/m);
    assert.match(out, /^ADD_ONE 41 = 42$/m);
    assert.match(out, /^both routers have shut down$/m);
  },
  "add-one-worker.js": (out) => {
    assert.match(out, /^main -> worker \d+:\d+:\d+: ADD_ONE 41 = 42$/m);
    assert.match(out, /^worker exited, router shut down$/m);
  },
  "smart-time-server-client.js": (out) => {
    // Sent before the client connected, buffered, flushed in order.
    const ticks = linesOf(out, "client: tick ");
    assert.equal(ticks.length, 3);
    ticks.forEach((line, i) => assert.match(line, new RegExp(`^client: tick ${i + 1}: the time is \\d{4}-\\d\\d-\\d\\dT`)));
    assert.match(out, /^client: got 3 time messages, done$/m);
  },
  "smart-publish-echo.js": (out) => {
    // Publish: both clients hear both messages.
    for (const name of ["alice", "bob"]) {
      assert.deepEqual(linesOf(out, `${name}: got`), [`${name}: got "hello from alice"`, `${name}: got "hello from bob"`]);
    }
    assert.match(out, /^echo: closed, done$/m);
  },
  "smart-identity-relay.js": (out) => {
    assert.deepEqual(linesOf(out, "producer: "), [1, 2, 3].map((i) => `producer: relay acknowledged ${i} (ok)`));
    assert.deepEqual(linesOf(out, "listener: "), [
      'listener: got "reading 1: 20.5 C"',
      'listener: got "reading 2: 21.0 C"',
      'listener: got "reading 3: 19.8 C"',
    ]);
    assert.match(out, /^relay: forwarded 3 messages, done$/m);
  },
  "aiomsg-agent.js": (out) => {
    // Without arguments the conformance agent pairs a bind sink with a connect source.
    assert.match(out, /^self-check: the sink printed \["msg-0","msg-1","msg-2"\]; exit codes 0 and 0$/m);
  },
  "demo.js": (out) => {
    assert.match(out, /\[client \d+\] <- reply "144"$/m);
    assert.match(out, /\[server \d+\] a subscriber subscribed to "news\."$/m);
    for (let i = 1; i <= 3; i++) assert.match(out, new RegExp(`\\[client \\d+\\] <- news\\.tech: headline ${i} of 3: `));
    assert.match(out, /\[server \d+\] closed, exiting$/m);
    assert.match(out, /\[client \d+\] the server process exited with code 0$/m);
    assert.match(out, /\[client \d+\] demo finished: both processes exchanged request\/reply and pub\/sub messages$/m);
  },
};

describe("examples", { concurrency: true, timeout: RUN_LIMIT_MS * 2 }, () => {
  test("every compiled example has an expectation, and every expectation an example", () => {
    const compiled = readdirSync(EXAMPLES_DIR).filter((name) => name.endsWith(".js")).sort();
    assert.deepEqual(compiled, Object.keys(EXPECTED).sort());
  });

  for (const [name, check] of Object.entries(EXPECTED)) {
    test(`${name} runs to completion and shows its pattern at work`, { timeout: RUN_LIMIT_MS + 5_000 }, async () => {
      const run = await runExample(EXAMPLES_DIR + name);
      const context = `\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
      assert.equal(run.signal, null, `killed by ${run.signal} (time limit ${RUN_LIMIT_MS} ms?)${context}`);
      assert.equal(run.code, 0, `exit code${context}`);
      assert.equal(run.stderr, "", `nothing on stderr${context}`);
      check(run.stdout);
    });
  }
});
