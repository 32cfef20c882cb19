// Cross-process interop: the libzmq peer runs in a separate child process, one
// or more scenarios per pattern family.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  assertFrames,
  ipcAddress,
  MiB,
  newProbe,
  payload,
  primeSubscription,
  receiveData,
  SWITCHBOARD,
  withScope,
} from "./harness.js";
import { RemotePeer } from "./remote.js";

const TIMEOUT = { timeout: 20_000 };

test("PUSH-PULL across processes: switchboard PUSH follows a libzmq PULL process restart (ipc)", TIMEOUT, () =>
  withScope(async (scope) => {
    const address = ipcAddress();
    scope.noteIpc(address);
    const first = await RemotePeer.start(scope);
    await first.open("Pull");
    const endpoint = await first.bind(address);

    const push = scope.open(SWITCHBOARD, "Push");
    const connected = scope.nextEvent(push, "handshake", 5000, "first child");
    push.connect(endpoint);
    await connected;
    await push.send(["one", "", "two"]);
    assertFrames(await first.receive(), ["one", "", "two"], "first child PULL");

    const dropped = scope.nextEvent(push, "disconnect", 5000, "child killed");
    await first.kill();
    await dropped;
    const reconnected = scope.nextEvent(push, "handshake", 10_000, "second child");
    const second = await RemotePeer.start(scope);
    await second.open("Pull");
    await second.bind(endpoint);
    await reconnected;

    for (let i = 0; i < 10; i++) await push.send(`after-${i}`);
    for (let i = 0; i < 10; i++) assertFrames(await second.receive(), [`after-${i}`], "second child PULL");
  }),
);

test("PUSH-PULL across processes: libzmq PUSH process to switchboard PULL (tcp)", TIMEOUT, () =>
  withScope(async (scope) => {
    const pull = scope.open(SWITCHBOARD, "Pull");
    const endpoint = await scope.bind(pull, "tcp");
    const peer = await RemotePeer.start(scope);
    await peer.open("Push");
    await peer.connect(endpoint);
    const big = payload(MiB, 6);
    await peer.send(["a", "", "b"]);
    await peer.send(big);
    await peer.send("");
    assertFrames(await pull.receive(), ["a", "", "b"], "multipart");
    assertFrames(await pull.receive(), [big], "1 MiB");
    assertFrames(await pull.receive(), [""], "empty");
  }),
);

test("PUB-SUB across processes: libzmq PUB process filters for switchboard SUB (tcp)", TIMEOUT, () =>
  withScope(async (scope) => {
    const peer = await RemotePeer.start(scope);
    await peer.open("Publisher");
    const endpoint = await peer.bind("tcp://127.0.0.1:0");
    const sub = scope.open(SWITCHBOARD, "Subscriber");
    sub.subscribe("t");
    sub.connect(endpoint);
    await primeSubscription((probe) => peer.send(probe), sub, newProbe("t"));

    await peer.send("nomatch");
    await peer.send(["t-1", "", "x"]);
    await peer.send(["u", "t"]);
    await peer.send("t-sentinel");
    assertFrames(await receiveData(sub), ["t-1", "", "x"], "matching message");
    assertFrames(await receiveData(sub), ["t-sentinel"], "nothing unmatched before the sentinel");
  }),
);

test("PUB-SUB across processes: switchboard PUB to libzmq SUB process (ipc)", TIMEOUT, () =>
  withScope(async (scope) => {
    const pub = scope.open(SWITCHBOARD, "Publisher");
    const endpoint = await scope.bind(pub, "ipc");
    const peer = await RemotePeer.start(scope);
    await peer.open("Subscriber");
    await peer.subscribe("t");
    await peer.connect(endpoint);
    await primeSubscription((probe) => pub.send(probe), peer, newProbe("t"));

    await pub.send("nomatch");
    await pub.send(["t-2", ""]);
    await pub.send("t-sentinel");
    assertFrames(await receiveData(peer), ["t-2", ""], "matching message");
    assertFrames(await receiveData(peer), ["t-sentinel"], "nothing unmatched before the sentinel");
  }),
);

test("REQ-REP across processes: switchboard REQ to libzmq REP process (tcp)", TIMEOUT, () =>
  withScope(async (scope) => {
    const peer = await RemotePeer.start(scope);
    await peer.open("Reply");
    const endpoint = await peer.bind("tcp://127.0.0.1:0");
    const req = scope.open(SWITCHBOARD, "Request");
    req.connect(endpoint);
    for (let i = 0; i < 3; i++) {
      await req.send([`question-${i}`, ""]);
      assertFrames(await peer.receive(), [`question-${i}`, ""], "child REP");
      await peer.send([`answer-${i}`, "", "z"]);
      assertFrames(await req.receive(), [`answer-${i}`, "", "z"], "REQ");
    }
  }),
);

test("REQ-REP across processes: libzmq REQ process to switchboard REP (ipc)", TIMEOUT, () =>
  withScope(async (scope) => {
    const rep = scope.open(SWITCHBOARD, "Reply");
    const endpoint = await scope.bind(rep, "ipc");
    const peer = await RemotePeer.start(scope);
    await peer.open("Request");
    await peer.connect(endpoint);
    for (let i = 0; i < 3; i++) {
      await peer.send([`question-${i}`]);
      assertFrames(await rep.receive(), [`question-${i}`], "REP");
      await rep.send(["", `answer-${i}`]);
      assertFrames(await peer.receive(), ["", `answer-${i}`], "child REQ");
    }
  }),
);

test("DEALER-ROUTER across processes: switchboard DEALER with 20 in flight to libzmq ROUTER process (tcp)", TIMEOUT, () =>
  withScope(async (scope) => {
    const peer = await RemotePeer.start(scope);
    await peer.open("Router");
    const endpoint = await peer.bind("tcp://127.0.0.1:0");
    const dealer = scope.open(SWITCHBOARD, "Dealer", { routingId: "sb-dealer" });
    dealer.connect(endpoint);

    const count = 20;
    for (let i = 0; i < count; i++) await dealer.send(["job", String(i)]);
    const jobs: Buffer[][] = [];
    for (let i = 0; i < count; i++) jobs.push(await peer.receive());
    for (const [id, tag, seq] of jobs.reverse()) {
      assert.equal(id?.toString(), "sb-dealer");
      assert.equal(tag?.toString(), "job");
      await peer.send([id!, "done", seq!]);
    }
    const done = new Set<string>();
    for (let i = 0; i < count; i++) {
      const [tag, seq] = await dealer.receive();
      assert.equal(tag?.toString(), "done");
      done.add(seq!.toString());
    }
    assert.equal(done.size, count, "every job answered once");
  }),
);

test("DEALER-ROUTER across processes: libzmq DEALER process to switchboard ROUTER by routingId (tcp)", TIMEOUT, () =>
  withScope(async (scope) => {
    const router = scope.open(SWITCHBOARD, "Router");
    const endpoint = await scope.bind(router, "tcp");
    const peer = await RemotePeer.start(scope);
    await peer.open("Dealer", { routingId: "child-dealer" });
    await peer.connect(endpoint);

    const count = 20;
    for (let i = 0; i < count; i++) await peer.send(["job", String(i)]);
    for (let i = 0; i < count; i++) {
      const [id, tag, seq] = await router.receive();
      assert.equal(id?.toString(), "child-dealer");
      assert.equal(tag?.toString(), "job");
      assert.equal(seq?.toString(), String(i));
    }
    for (let i = count - 1; i >= 0; i--) await router.send(["child-dealer", "done", String(i)]);
    for (let i = count - 1; i >= 0; i--) assertFrames(await peer.receive(), ["done", String(i)], "child DEALER");
  }),
);

test("PAIR across processes: libzmq PAIR process connects to switchboard PAIR (ipc)", TIMEOUT, () =>
  withScope(async (scope) => {
    const pair = scope.open(SWITCHBOARD, "Pair");
    const endpoint = await scope.bind(pair, "ipc");
    const peer = await RemotePeer.start(scope);
    await peer.open("Pair");
    await peer.connect(endpoint);
    await peer.send(["from child", "", "end"]);
    assertFrames(await pair.receive(), ["from child", "", "end"], "PAIR");
    await pair.send(["from parent", ""]);
    assertFrames(await peer.receive(), ["from parent", ""], "child PAIR");
  }),
);

test("PAIR across processes: switchboard PAIR connects to libzmq PAIR process (tcp)", TIMEOUT, () =>
  withScope(async (scope) => {
    const peer = await RemotePeer.start(scope);
    await peer.open("Pair");
    const endpoint = await peer.bind("tcp://127.0.0.1:0");
    const pair = scope.open(SWITCHBOARD, "Pair");
    pair.connect(endpoint);
    await pair.send(["from parent", "", "x"]);
    assertFrames(await peer.receive(), ["from parent", "", "x"], "child PAIR");
    await peer.send("from child");
    assertFrames(await pair.receive(), ["from child"], "PAIR");
  }),
);
