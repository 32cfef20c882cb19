/**
 * Hostile peers against bound sockets, over real tcp and ipc connections.
 *
 * A property throws random and mutated byte streams, in random chunkings,
 * at a Pull (tcp and ipc), a Router, a Publisher and a Reply, while a
 * well-behaved Switchboard peer stays connected to each. Every case is
 * checked against an independent model of the protocol (model.ts): invalid
 * input closes the connection with a coded error, reported by events and on
 * the diagnostics channel; valid input is delivered exactly and the link
 * stays in sync; the good peer keeps getting through; nothing crashes and
 * memory stays bounded. Targeted cases then pin exact expectations.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";
import { Pull, ProtocolError, type Event } from "../../src/index.js";
import { FrameEncoder, encodeCommand, encodeError, encodeGreeting, encodePing, encodeReady } from "../../src/wire/index.js";
import { connectAndWrite, pongs, runCase, turnsUntil } from "./attack.js";
import { hostileCase } from "./generators.js";
import { ManualClock, RawPeer } from "./raw-peer.js";
import { GOOD_ID, HANDSHAKE_INTERVAL, MAX_MESSAGE_SIZE, Targets, type Target, type TargetName } from "./targets.js";

const GREETING = encodeGreeting("NULL");
const NUM_RUNS = 1000;

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** Anything thrown or rejected outside the test's own promises: each one is a failure. */
const crashes: unknown[] = [];
const onCrash = (error: unknown): void => {
  crashes.push(error);
};

function message(frames: readonly Buffer[]): Buffer {
  const encoder = new FrameEncoder();
  frames.forEach((f, i) => encoder.writeFrame(f, i < frames.length - 1));
  return Buffer.concat(encoder.take());
}

function moreFrame(body: Buffer): Buffer {
  const encoder = new FrameEncoder();
  encoder.writeFrame(body, true);
  return Buffer.concat(encoder.take());
}

function longHeader(flags: number, size: bigint): Buffer {
  const h = Buffer.alloc(9);
  h[0] = flags;
  h.writeBigUInt64BE(size, 1);
  return h;
}

/** Socket and server handles of the process (stdio pipes included), sorted. */
function handles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => /Wrap$/.test(r)).sort();
}

function sameHandles(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function errorEvent(target: Target): ProtocolError {
  const event = target.events.find((e) => e.error !== undefined);
  assert.ok(event?.error instanceof ProtocolError, `a protocol error event, got ${JSON.stringify(target.events)}`);
  return event.error;
}

describe("hostile peers against bound sockets", { timeout: 120_000 }, () => {
  const clock = new ManualClock();
  // Set by the before hook; undefined only if opening them failed (then every test fails on it).
  let opened: Targets | undefined;
  let baseline: string[];
  const targetsOf = (): Targets => {
    assert.ok(opened, "the sockets under test are open");
    return opened;
  };
  const targetNamed = (name: TargetName): Target => targetsOf().get(name);

  before(async () => {
    baseline = handles();
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
    opened = await Targets.open(clock);
  });

  after(() => {
    opened?.close(); // again, in case the last test did not run
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
  });

  it("survives random and mutated streams: coded refusals, exact delivery, good peer unaffected, bounded memory", { timeout: 60_000 }, async () => {
    gc();
    const start = process.memoryUsage();
    await fc.assert(
      fc.asyncProperty(hostileCase, async (c) => {
        await runCase(targetNamed(c.target), clock, c.stream, c.chunking, c.keepOpen);
        assert.deepEqual(crashes, [], "no uncaught exception or unhandled rejection");
        assert.deepEqual(targetsOf().goodPeerTrouble, [], "the good peers never lost their connection");
      }),
      // A hung case costs its deadline on every shrinking step: stop shrinking in time to report it.
      { numRuns: NUM_RUNS, includeErrorInReport: true, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: true },
    );
    gc();
    const end = process.memoryUsage();
    const MiB = 2 ** 20;
    assert.ok(end.heapUsed - start.heapUsed < 16 * MiB, `heap grew by ${((end.heapUsed - start.heapUsed) / MiB).toFixed(1)} MiB`);
    assert.ok(end.arrayBuffers - start.arrayBuffers < 16 * MiB, `buffers grew by ${((end.arrayBuffers - start.arrayBuffers) / MiB).toFixed(1)} MiB`);
  });

  describe("exact expectations", () => {
    it("refuses a header announcing 2^64-1 bytes from the header alone", { timeout: 10_000 }, async () => {
      const target = targetNamed("pull");
      for (const flags of [0x02, 0x03, 0x06]) {
        const peer = await connectAndWrite(target, [Buffer.concat([GREETING, encodeReady("PUSH", undefined), longHeader(flags, 2n ** 64n - 1n)])]);
        await peer.closed; // no body byte was ever sent
        assert.ok(peer.closedByServer);
        const error = errorEvent(target);
        assert.equal(error.code, "ERR_ZMTP_MESSAGE_TOO_LARGE");
        assert.deepEqual(target.events.map((e) => e.type), ["accept", "handshake", "disconnect"]);
        assert.equal(target.published[0]?.error, error);
      }
      await target.roundTrip();
    });

    it("refuses data before READY with ERR_ZMTP_UNEXPECTED_COMMAND", { timeout: 10_000 }, async () => {
      for (const name of ["pull", "router", "pub", "rep"] as const) {
        const target = targetNamed(name);
        const peer = await connectAndWrite(target, [Buffer.concat([GREETING, message([Buffer.from("early")])])]);
        await peer.closed;
        assert.ok(peer.closedByServer);
        const error = errorEvent(target);
        assert.equal(error.code, "ERR_ZMTP_UNEXPECTED_COMMAND");
        assert.deepEqual(target.events.map((e) => e.type), ["accept", "handshake:error:protocol"]);
        assert.deepEqual(target.published.map((p) => [p.error, p.socketType, p.address]), [[error, target.type, target.endpoint]]);
        await target.roundTrip();
      }
    });

    it("refuses every incompatible socket type with ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE", { timeout: 10_000 }, async () => {
      const compatible: Record<string, string[]> = { pull: ["PUSH"], router: ["REQ", "DEALER", "ROUTER"], pub: ["SUB", "XSUB"], rep: ["REQ", "DEALER"] };
      const all = ["PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB", "CLIENT", "push"];
      for (const [name, ok] of Object.entries(compatible)) {
        const target = targetNamed(name as TargetName);
        for (const type of all.filter((t) => !ok.includes(t))) {
          const peer = await connectAndWrite(target, [Buffer.concat([GREETING, encodeReady(type, undefined)])]);
          await peer.closed;
          assert.ok(peer.closedByServer);
          assert.equal(errorEvent(target).code, "ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE", `${name} vs ${type}`);
          assert.equal(target.published.length, 1);
        }
        await target.roundTrip();
      }
    });

    it("refuses a first byte other than 0xFF after that one byte, and a clear bit 0 of byte 9 after 10", { timeout: 10_000 }, async () => {
      const target = targetNamed("pull");
      for (const bytes of [Buffer.from("G"), Buffer.from([0x00]), Buffer.concat([GREETING.subarray(0, 9), Buffer.from([0x7e])])]) {
        const peer = await connectAndWrite(target, [bytes]);
        await peer.closed; // nothing more was sent
        assert.ok(peer.closedByServer);
        assert.equal(errorEvent(target).code, "ERR_ZMTP_BAD_SIGNATURE");
        assert.equal(target.published.length, 1);
      }
    });

    it("refuses ZMTP 1.x and 2.x after byte 11, and talks ZMTP 3.1 to a major version of 4 or more", { timeout: 10_000 }, async () => {
      const target = targetNamed("pull");
      for (const major of [0, 1, 2]) {
        const g = Buffer.from(GREETING.subarray(0, 11));
        g[10] = major;
        const peer = await connectAndWrite(target, [g]);
        await peer.closed;
        assert.equal(errorEvent(target).code, "ERR_ZMTP_UNSUPPORTED_VERSION");
      }
      for (const major of [4, 255]) {
        const g = Buffer.from(GREETING);
        g[10] = major;
        g[11] = 7;
        const peer = await connectAndWrite(target, [Buffer.concat([g, encodeReady("PUSH", undefined), encodePing(0, Buffer.from("v4"))])]);
        assert.ok(await peer.until((out) => pongs(out).length === 1));
        assert.deepEqual(target.events.map((e) => e.type), ["accept", "handshake"]);
        peer.end();
        await peer.closed;
        await turnsUntil(() => target.events.some((e) => e.type === "disconnect"));
      }
    });

    it("refuses other mechanisms, ERROR from the peer and a duplicate routing id, each with its code", { timeout: 10_000 }, async () => {
      const plain = Buffer.from(GREETING);
      plain.write("PLAIN", 12, "latin1");
      const cases: Array<[Target, Buffer, string]> = [
        [targetNamed("pull"), plain, "ERR_ZMTP_MECHANISM_MISMATCH"],
        [targetNamed("pull"), Buffer.concat([GREETING, encodeError("go away")]), "ERR_ZMTP_PEER_ERROR"],
        [targetNamed("pull"), Buffer.concat([GREETING, encodeReady("PUSH", undefined), encodeError("bye")]), "ERR_ZMTP_PEER_ERROR"],
        [targetNamed("pull"), Buffer.concat([GREETING, encodeCommand("ERROR", Buffer.from([200, 0x61]))]), "ERR_ZMTP_MALFORMED_COMMAND_ERROR"],
        [targetNamed("router"), Buffer.concat([GREETING, encodeReady("DEALER", GOOD_ID)]), "ERR_ZMTP_DUPLICATE_ROUTING_ID"],
      ];
      for (const [target, stream, code] of cases) {
        const peer = await connectAndWrite(target, [stream]);
        await peer.closed;
        assert.ok(peer.closedByServer);
        assert.equal(errorEvent(target).code, code);
        await target.roundTrip();
      }
    });

    it("drops a peer that never finishes its greeting after handshakeInterval", { timeout: 10_000 }, async () => {
      const pull = new Pull({ handshakeInterval: 200, linger: 0 });
      try {
        await pull.bind("tcp://127.0.0.1:0");
        const failures: Event[] = [];
        pull.events.on("handshake:error:protocol", (e) => failures.push(e));
        const started = performance.now();
        const peer = await RawPeer.open(pull.lastEndpoint!);
        await peer.write([GREETING.subarray(0, 20)]);
        await peer.closed;
        const elapsed = performance.now() - started;
        assert.ok(peer.closedByServer);
        assert.ok(elapsed >= 195, `dropped after ${elapsed.toFixed(0)} ms, before handshakeInterval`);
        assert.equal(failures.length, 1);
        assert.equal((failures[0] as { error: ProtocolError }).error.code, "ERR_ZMTP_HANDSHAKE_TIMEOUT");
      } finally {
        pull.close();
      }
    });

    it("reports a handshake timeout on the protocol-error diagnostics channel", { timeout: 10_000 }, async () => {
      const target = targetNamed("router");
      const peer = await connectAndWrite(target, [GREETING.subarray(0, 30)]);
      clock.advance(HANDSHAKE_INTERVAL);
      await peer.closed;
      const error = errorEvent(target);
      assert.equal(error.code, "ERR_ZMTP_HANDSHAKE_TIMEOUT");
      assert.deepEqual(target.published.map((p) => p.error), [error], "ProtocolError is documented to go to the channel");
    });

    it("refuses a multipart message larger than maxMessageSize even when each frame fits", { timeout: 10_000 }, async () => {
      const target = targetNamed("pull");
      const half = Buffer.alloc(MAX_MESSAGE_SIZE / 2 + 1000, 0x68);
      const peer = await connectAndWrite(target, [Buffer.concat([GREETING, encodeReady("PUSH", undefined), moreFrame(half), message([half])])]);
      peer.end();
      await peer.closed;
      await target.roundTrip();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(target.hostile.length, 0, `a ${2 * half.length}-byte message was delivered past maxMessageSize ${MAX_MESSAGE_SIZE}`);
      assert.equal(errorEvent(target).code, "ERR_ZMTP_MESSAGE_TOO_LARGE");
    });

    it("cuts off a message of endless empty MORE frames", { timeout: 20_000 }, async () => {
      const target = targetNamed("pull");
      // 131072 empty frames (4 x maxMessageSize on the wire), all one unfinished message. Their bodies add up to
      // nothing, yet each frame is an object in memory (about 100 bytes): without a bound on frames, 2 MB of
      // such input held about 100 MB of heap.
      const frames = Buffer.alloc(4 * MAX_MESSAGE_SIZE);
      for (let i = 0; i < frames.length; i += 2) frames[i] = 0x01;
      const peer = await connectAndWrite(target, [Buffer.concat([GREETING, encodeReady("PUSH", undefined)]), frames]);
      peer.end();
      await peer.closed;
      assert.deepEqual(target.events.map((e) => e.type), ["accept", "handshake", "disconnect"]);
      assert.equal(target.events[2]?.error?.code, "ERR_ZMTP_MESSAGE_TOO_LARGE", "the endless message was never cut off");
    });

    it("does not deliver a request that is only an envelope to a Reply application", { timeout: 10_000 }, async () => {
      const target = targetNamed("rep");
      const empty = Buffer.alloc(0);
      const peer = await connectAndWrite(target, [
        Buffer.concat([GREETING, encodeReady("REQ", empty), message([empty]), message([empty, Buffer.from("x")])]),
      ]);
      peer.end();
      await peer.closed;
      await target.roundTrip();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(target.hostile, [[Buffer.from("x")]], "libzmq discards a request with no body after the delimiter");
    });
  });

  it("closing the sockets leaves no connection, timer or handle behind", { timeout: 10_000 }, async () => {
    targetsOf().close();
    assert.equal(clock.pending, 0, "every connection cleared its timers");
    // Handles close asynchronously: give them event-loop turns, not wall-clock time.
    for (let turn = 0; turn < 200 && !sameHandles(handles(), baseline); turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(handles(), baseline, "only the handles that were open before the sockets");
    assert.deepEqual(crashes, []);
  });
});
