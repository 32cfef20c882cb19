// A router written in Python from docs/protocols/router.md alone
// (test/interop/python/vlm_peer.py, pyzmq + msgpack) joins a Switchboard
// network hub over tcp: it registers a provider at the hub's directory,
// answers Switchboard requests, finds a Switchboard agent through the
// directory and asks it, and its death is a prompt coded failure. This is
// the proof that the protocol page is enough to implement a peer.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import diagnostics_channel from "node:diagnostics_channel";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { messaging } from "../../src/index.js";

const { Router, Directory, Msg, Address, Entry, VLM, registerEntry, getEntries } = messaging;
type Connection = messaging.Connection;

const PYTHON = "/usr/bin/python3";
const PEER_SCRIPT = join("test", "interop", "python", "vlm_peer.py");
const INSTALL_HINT =
  "the Python router peer needs Debian's python3 with python3-zmq and python3-msgpack: apt-get install python3 python3-zmq python3-msgpack";
/** Anything the peer does (start-up, a handshake, a request) settles well within this. */
const BOUND_MS = 5_000;
const REQUEST_MS = 2_000;
const T = { timeout: 15_000 };

/** The source tree holding the peer script: walk up from the compiled test until it is found. */
function peerScript(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, PEER_SCRIPT);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${PEER_SCRIPT} not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Fails (never skips) with the install hint when python3, zmq or msgpack is missing. */
function requirePython(): void {
  const probe = spawnSync(PYTHON, ["-c", "import zmq, msgpack"], { encoding: "utf8", timeout: BOUND_MS });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${INSTALL_HINT} (${probe.error?.message ?? probe.stderr.trim()})`);
  }
}

type PeerEvent = { event: string } & Record<string, unknown>;

/** The Python process and its JSON-lines stdout, awaited event by event. */
class PythonPeer {
  private readonly events: PeerEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private stderr = "";
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on("line", (line) => {
      this.events.push(JSON.parse(line) as PeerEvent);
      for (const wake of this.waiters) wake();
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    void this.exited.then(() => {
      for (const wake of this.waiters) wake();
    });
  }

  /** The first event named `event` (after `from`, an index into the events) that satisfies `ok`; bounded. */
  next(event: string, ok: (e: PeerEvent) => boolean = () => true, from = 0): Promise<PeerEvent> {
    return new Promise((resolve, reject) => {
      const look = (): void => {
        const found = this.events.slice(from).find((e) => e.event === event && ok(e));
        if (found) return done(() => resolve(found));
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done(() => reject(new Error(`the Python peer exited before "${event}"; ${this.transcript()}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no "${event}" from the Python peer within ${BOUND_MS} ms; ${this.transcript()}`))), BOUND_MS);
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(look);
        settle();
      };
      this.waiters.add(look);
      look();
    });
  }

  /** How many events so far: pass it to next() to wait for one that comes after now. */
  get mark(): number {
    return this.events.length;
  }

  /** The events named `event` so far. */
  all(event: string): PeerEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  command(cmd: Record<string, unknown>): void {
    this.child.stdin.write(JSON.stringify(cmd) + "\n");
  }

  transcript(): string {
    return `stdout: ${this.events.map((e) => JSON.stringify(e)).join(" | ")}; stderr: ${this.stderr.trim()}`;
  }
}

/** Waits (bounded) for the router's link to `peer` ("machine:router") to go down. */
function linkDown(peer: string): Promise<void> {
  const channel = diagnostics_channel.channel("switchboard:messaging:link");
  return new Promise((resolve, reject) => {
    const listener = (message: unknown): void => {
      const m = message as { peer?: string; up?: boolean };
      if (m.peer === peer && m.up === false) finish(resolve);
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`the link to ${peer} did not go down within ${BOUND_MS} ms`))), BOUND_MS);
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      channel.unsubscribe(listener);
      settle();
    };
    channel.subscribe(listener);
  });
}

async function rejectsWith(request: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  await assert.rejects(request, (error: unknown) => {
    caught = error;
    assert.equal((error as { code?: string }).code, code);
    return true;
  });
  return caught as Error;
}

// Machine ids of this test's own: the gateway endpoint and the ipc mesh are
// per machine, so other tests running at the same time never share them.
const HUB_MACHINE = 0x4000_0000 + (process.pid % 0x10_0000) * 2;
const PY_MACHINE = HUB_MACHINE + 1;
const PY_ROUTER = 7;
/** Short, so a test can see the entry outlive it through renewals (every ttl / 3). */
const PY_TTL_MS = 900;
const pyAddr = new Address(PY_MACHINE, PY_ROUTER, 16);

// Its own test, so a missing module is counted as a failure with the hint
// (the suite below then stops at its before hook with the same message).
it("finds python3 with python3-zmq and python3-msgpack", T, () => {
  requirePython();
});

describe("a Python router peer (pyzmq + msgpack) on a Switchboard network hub", T, () => {
  let router: messaging.Router;
  let client: Connection;
  let echo: Connection;
  let peer: PythonPeer;
  const echoed: messaging.Msg[] = [];

  before(async () => {
    requirePython();
    router = new Router({ mode: VLM.NETWORK_MODE, machineId: HUB_MACHINE });
    const directory = new Directory(router, { vnets: ["test"], netListen: "tcp://127.0.0.1:0" });
    await directory.ready;
    assert.ok(directory.netEndpoint, "the hub has a tcp endpoint");
    echo = router.newConnection(async (msg) => {
      if (msg.subject !== "ECHO") return [VLM.IGNORE_UNHANDLED_REPLIES, VLM.HANDLE_PING, VLM.HANDLE_DOES_NOT_UNDERSTAND];
      echoed.push(msg);
      await echo.send(msg.reply({ echo: msg.contents }));
      return undefined;
    });
    await registerEntry(echo, new Entry(echo.addr, "Echo", null, ["test"]), REQUEST_MS);
    client = router.newConnection();
    const args = [peerScript(), "--hub", directory.netEndpoint, "--machine", String(PY_MACHINE), "--router", String(PY_ROUTER), "--ttl-ms", String(PY_TTL_MS)];
    peer = new PythonPeer(spawn(PYTHON, args, { stdio: ["pipe", "pipe", "pipe"] }));
    await peer.next("started");
  });

  after(async () => {
    if (peer && peer.child.exitCode === null && peer.child.signalCode === null) {
      peer.child.kill("SIGKILL");
      await peer.exited;
    }
    router?.shutdown();
  });

  it("encodes and decodes every test vector of the protocol page", T, () => {
    const run = spawnSync(PYTHON, [peerScript(), "--self-test"], { encoding: "utf8", timeout: BOUND_MS });
    assert.equal(run.status, 0, `self-test failed: ${run.stdout} ${run.stderr}`);
    const result = JSON.parse(run.stdout) as { vectors: number; failures: string[] };
    assert.deepEqual(result.failures, []);
    assert.equal(result.vectors, 5);
  });

  it("exchanges LINK_HELLO and registers its provider at the hub's directory", T, async () => {
    const hello = await peer.next("hub-hello");
    assert.equal(hello.hub, router.directoryAddr.toString(), "the hub's hello comes from its directory address");
    assert.deepEqual(hello.directory, { vnets: ["test"] });
    await peer.next("registered", (e) => e.n === 1);
    const entries = await getEntries(client, { service: "AddOne" }, REQUEST_MS);
    assert.equal(entries.length, 1);
    const [entry] = entries;
    assert.ok(entry!.addr.equals(pyAddr), `the entry is the Python provider's, got ${entry!.addr.toString()}`);
    assert.deepEqual(entry!.vnets, ["test"]);
  });

  it("answers ADD_ONE 41 from a Switchboard connection with 42", T, async () => {
    const reply = await client.send(new Msg(pyAddr, "ADD_ONE", 41), REQUEST_MS);
    assert.equal(reply.contents, 42);
    assert.ok(reply.from?.equals(pyAddr), "the reply comes from the provider");
  });

  it("answers PING with PONG", T, async () => {
    const reply = await client.send(new Msg(pyAddr, VLM.PING), REQUEST_MS);
    assert.equal(reply.subject, VLM.PONG);
  });

  it("answers an unknown subject with DOES_NOT_UNDERSTAND (EDOESNOTUNDERSTAND)", T, async () => {
    await rejectsWith(client.send(new Msg(pyAddr, "FROBNICATE", 1), REQUEST_MS), "EDOESNOTUNDERSTAND");
  });

  it("reports its handler's failure as HANDLER_FAILED (EREMOTE)", T, async () => {
    const error = await rejectsWith(client.send(new Msg(pyAddr, "ADD_ONE", "forty-one"), REQUEST_MS), "EREMOTE");
    assert.deepEqual((error as Error & { remote: unknown }).remote, { name: "TypeError", message: "ADD_ONE needs a number" });
  });

  it("answers a request for a connection it does not have with MSG_NOT_DELIVERED (ENOTDELIVERED)", T, async () => {
    await rejectsWith(client.send(new Msg(new Address(PY_MACHINE, PY_ROUTER, 99), "ADD_ONE", 1), REQUEST_MS), "ENOTDELIVERED");
  });

  it("finds the Switchboard Echo agent through the hub's directory and gets its answer", T, async () => {
    const mark = peer.mark;
    peer.command({ cmd: "echo", service: "Echo", subject: "ECHO", contents: "from python" });
    const found = await peer.next("entries", () => true, mark);
    assert.deepEqual((found.entries as { addr: number[] }[]).map((e) => e.addr), [echo.addr.toJSON()]);
    const answer = await peer.next("echo-reply", () => true, mark);
    assert.equal(answer.subject, "ECHO");
    assert.deepEqual(answer.contents, { echo: "from python" });
    assert.equal(answer.frm, echo.addr.toString());
    assert.equal(echoed.length, 1);
    assert.ok(echoed[0]!.from?.equals(pyAddr), "the Echo agent saw the Python connection as the sender");
  });

  it("gets only well-formed Msgs after the hub's hello, and no DIRECTORY_SYNC (its hello named no directory)", T, () => {
    for (const event of ["malformed", "dropped-before-hello", "sync-ignored"]) {
      assert.deepEqual(peer.all(event), [], event);
    }
  });

  it("keeps its entry past its ttl by registering again", T, async () => {
    // Renewals every ttl/3: once more than a ttl has passed since the first
    // registration, the entry is still there only because of them.
    const first = await peer.next("registered", (e) => e.n === 1);
    const renewed = await peer.next("registered", (e) => (e.atMs as number) - (first.atMs as number) > PY_TTL_MS);
    assert.ok((renewed.n as number) > 1);
    const entries = await getEntries(client, { service: "AddOne" }, REQUEST_MS);
    assert.deepEqual(entries.map((e) => e.addr.toString()), [pyAddr.toString()]);
    assert.deepEqual(peer.all("register-failed"), []);
  });

  it("once killed, the next request to its address fails promptly with ENOTDELIVERED", T, async () => {
    const down = linkDown(`${PY_MACHINE}:${PY_ROUTER}`);
    peer.child.kill("SIGKILL");
    await peer.exited;
    await down;
    const started = performance.now();
    await rejectsWith(client.send(new Msg(pyAddr, "ADD_ONE", 41), REQUEST_MS), "ENOTDELIVERED");
    assert.ok(performance.now() - started < REQUEST_MS, "a coded failure at once, not a timeout");
  });
});
