// Socket options: defaults as zeromq.js has them, constructor options,
// validation (EINVAL), and the options whose effect is not covered by the
// pattern and flow-control files (maxMessageSize, immediate, handshakeInterval).
import assert from "node:assert/strict";
import diagnostics_channel from "node:diagnostics_channel";
import { describe, it } from "node:test";
import * as zmq from "zeromq";
import * as sb from "../../src/index.js";
import { Dealer, InvalidArgumentError, Pull, Push, Router } from "../../src/index.js";
import { bindUnique, forEachTransport, laterEndpoint } from "../helpers/endpoints.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { RawServer } from "../helpers/raw-zmtp.js";
import { nextEvent, settledWithin, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

const KINDS = [
  "Pair", "Publisher", "Subscriber", "Request", "Reply", "Dealer", "Router", "Pull", "Push", "XPublisher", "XSubscriber",
] as const;
type Kind = (typeof KINDS)[number];
type AnySocket = { close(): void } & Record<string, unknown>;
const make = (api: unknown, kind: Kind, options?: object): AnySocket =>
  new (api as Record<Kind, new (o?: object) => AnySocket>)[kind](options);

const CORE = [
  "linger", "reconnectInterval", "reconnectMaxInterval", "immediate", "ipv6", "backlog", "handshakeInterval",
  "heartbeatInterval", "heartbeatTimeout", "heartbeatTimeToLive", "connectTimeout", "sendHighWaterMark",
  "receiveHighWaterMark", "sendTimeout", "receiveTimeout", "routingId",
  "mandatory", "handover", "relaxed", "correlate", "noDrop", "invertMatching", "verbosity", "welcomeMessage",
];

const isEinval = (error: unknown): boolean => error instanceof InvalidArgumentError && error.code === "EINVAL";

describe("socket options", () => {
  for (const kind of KINDS) {
    it(`${kind}: option defaults are zeromq.js's (maxMessageSize aside)`, T, () => {
      const ours = make(sb, kind);
      const theirs = make(zmq, kind);
      try {
        const differ: string[] = [];
        for (const name of CORE) {
          let expected: unknown;
          try {
            expected = theirs[name];
          } catch {
            continue; // write-only in zeromq.js
          }
          if (expected === undefined) continue; // not an option of this socket type there
          if (ours[name] !== expected) differ.push(`${name}: ${String(ours[name])}, zeromq.js ${String(expected)}`);
        }
        assert.deepEqual(differ, []);
        // Deliberately bounded (docs/errors.md): libzmq has no limit by default.
        assert.equal(ours["maxMessageSize"], 64 * 1024 * 1024);
      } finally {
        ours.close();
        theirs.close();
      }
    });
  }

  it("type is libzmq's socket type number", T, () => {
    const expected: Record<Kind, number> = {
      Pair: 0, Publisher: 1, Subscriber: 2, Request: 3, Reply: 4, Dealer: 5, Router: 6, Pull: 7, Push: 8, XPublisher: 9, XSubscriber: 10,
    };
    for (const kind of KINDS) {
      const socket = make(sb, kind);
      assert.equal(socket["type"], expected[kind], kind);
      socket.close();
    }
  });

  it("constructor options set the same properties as assignment", T, () => {
    const cases: Array<[Kind, Record<string, unknown>]> = [
      ["Push", {
        linger: 0, reconnectInterval: 250, reconnectMaxInterval: 1000, immediate: true, handshakeInterval: 1234,
        heartbeatInterval: 50, heartbeatTimeout: 75, heartbeatTimeToLive: 3000, connectTimeout: 10, sendHighWaterMark: 7,
        receiveHighWaterMark: 9, sendTimeout: 11, receiveTimeout: 13, maxMessageSize: 4096, backlog: 5,
      }],
      ["Router", { mandatory: true, handover: true, routingId: "r" }],
      ["Dealer", { routingId: "d" }],
      ["Request", { relaxed: true, correlate: true }],
      ["Publisher", { noDrop: true, invertMatching: true }],
      ["XPublisher", { noDrop: true, invertMatching: true, verbosity: "allSubsUnsubs", welcomeMessage: "hi" }],
    ];
    for (const [kind, options] of cases) {
      const socket = make(sb, kind, options);
      for (const [name, value] of Object.entries(options)) assert.equal(socket[name], value, `${kind}.${name}`);
      socket.close();
    }
  });

  it("rejects invalid option values with EINVAL and keeps the old value", T, () => {
    const push = track(new Push());
    const bad: Array<[string, unknown]> = [
      ["sendHighWaterMark", -1], ["sendHighWaterMark", 1.5], ["sendHighWaterMark", "10"], ["receiveHighWaterMark", -1],
      ["linger", -2], ["sendTimeout", -2], ["receiveTimeout", null], ["reconnectInterval", -2], ["immediate", 1],
      ["heartbeatInterval", -1], ["handshakeInterval", -1], ["routingId", ""], ["routingId", "\u0000reserved"],
      ["routingId", "x".repeat(256)], ["maxMessageSize", -2],
    ];
    for (const [name, value] of bad) {
      const before = (push as unknown as Record<string, unknown>)[name];
      assert.throws(() => ((push as unknown as Record<string, unknown>)[name] = value), isEinval, `${name} = ${String(value)}`);
      assert.equal((push as unknown as Record<string, unknown>)[name], before);
    }
    assert.throws(() => new Push({ sendHighWaterMark: -5 }), isEinval);
    assert.throws(() => new Router({ mandatory: "yes" as unknown as boolean }), isEinval);
  });

  it("accepts the boundary values libzmq accepts", T, () => {
    const push = track(new Push());
    push.sendHighWaterMark = 0;
    push.linger = -1;
    push.sendTimeout = 0;
    push.routingId = "x".repeat(255);
    push.routingId = null;
    assert.equal(push.sendHighWaterMark, 0);
    assert.equal(push.routingId, null);
  });
});

forEachTransport((transport) => {
  describe(`options with effect over ${transport}`, () => {
    it("immediate: nothing is queued for a peer that is not connected yet", T, async () => {
      const address = await laterEndpoint(transport);
      const eager = track(new Push());
      const immediate = track(new Push({ immediate: true }));
      eager.connect(address);
      immediate.connect(address);
      assert.equal(eager.writable, true);
      assert.equal(immediate.writable, false);
      await eager.send("queued early");
      const waiting = immediate.send("sent once connected");
      assert.equal(await settledWithin(waiting), "pending");
      const pull = track(new Pull());
      await pull.bind(address);
      await waiting;
      const got = [strings(await pull.receive())[0], strings(await pull.receive())[0]].sort();
      assert.deepEqual(got, ["queued early", "sent once connected"]);
    });

    if (transport === "inproc") return;

    it("maxMessageSize: a larger inbound message closes that link with ERR_ZMTP_MESSAGE_TOO_LARGE", T, async () => {
      const pull = track(new Pull({ maxMessageSize: 1000 }));
      const address = await bindUnique(pull, transport);
      const push = track(new Push());
      push.connect(address);
      await push.send(Buffer.alloc(1000));
      assert.equal((await pull.receive())[0]?.length, 1000);

      const reported: unknown[] = [];
      const onError = (message: unknown): void => void reported.push(message);
      diagnostics_channel.subscribe("switchboard:connection:protocol-error", onError);
      try {
        const dropped = nextEvent(pull, "disconnect", (e) => e.error !== undefined);
        const back = nextEvent(push, "handshake");
        await push.send(Buffer.alloc(1001));
        const { error } = await dropped;
        assert.equal(error?.code, "ERR_ZMTP_MESSAGE_TOO_LARGE");
        assert.ok(reported.some((m) => (m as { error?: { code?: string } }).error?.code === "ERR_ZMTP_MESSAGE_TOO_LARGE"));
        // The sender reconnects, and messages within the limit flow again.
        await back;
        await push.send("small again");
        assert.deepEqual(strings(await pull.receive()), ["small again"]);
      } finally {
        diagnostics_channel.unsubscribe("switchboard:connection:protocol-error", onError);
      }
    });

    it("handshakeInterval: a peer that never completes the handshake is dropped after it", T, async () => {
      const server = await RawServer.listen("ROUTER", { transport, greet: false });
      try {
        const clock = new FakeClock();
        const dealer = track(new Dealer({ handshakeInterval: 500, clock }));
        const connected = nextEvent(dealer, "connect");
        const failed = nextEvent(dealer, "handshake:error:protocol");
        let failures = 0;
        dealer.events.on("handshake:error:protocol", () => failures++);
        dealer.connect(server.endpoint);
        await connected;
        await server.accepted();
        clock.tick(499);
        assert.equal(failures, 0);
        clock.tick(1);
        const { error } = await failed;
        assert.equal(error.code, "ERR_ZMTP_HANDSHAKE_TIMEOUT");
      } finally {
        server.close();
      }
    });
  });
});
