// Socket-type matrix against libzmq: every compatible pair, Switchboard on
// either end, Switchboard binding or connecting, over tcp and ipc. Each cell
// exchanges multipart messages with empty frames and messages of 0, 255, 256
// bytes and 1 MiB in every direction the pattern allows.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  assertFrames,
  buf,
  connectTo,
  frames,
  LIBZMQ,
  MiB,
  newProbe,
  other,
  payload,
  primeSubscription,
  receiveData,
  Scope,
  SHORT_NAME,
  SIDES,
  SWITCHBOARD,
  TRANSPORTS,
  withScope,
  type Side,
  type Sock,
  type SocketKind,
  type Transport,
} from "./harness.js";

interface Cell {
  readonly a: Sock;
  readonly b: Sock;
  readonly binder: Sock;
  readonly connecter: Sock;
}

interface PairSpec {
  readonly a: SocketKind;
  readonly b: SocketKind;
  /** Both ends have the same type, so only the binder varies. */
  readonly symmetric?: boolean;
  readonly binderOptions?: Record<string, unknown>;
  readonly connecterOptions?: Record<string, unknown>;
  readonly connectOptions?: { routingId: string };
  /** Wait for the connecter's handshake before the first exchange. */
  readonly awaitHandshake?: boolean;
  readonly prepare?: (cell: Cell) => Promise<void>;
  /** Sends `request` from a to b and, where the pattern allows, `reply` back. */
  readonly roundTrip: (cell: Cell, request: Buffer[], reply: Buffer[]) => Promise<void>;
}

const SUBSCRIBE_ALL = Buffer.from([1]);

// The XPUB notification is checked after priming: a connecting libzmq XPUB
// may hold back a subscription notification until it next sends, so priming
// first keeps the check free of timing assumptions.

async function primeAll(pub: Sock, sub: Sock): Promise<void> {
  await primeSubscription((probe) => pub.send(probe), sub, newProbe());
}

async function downstream(pub: Sock, sub: Sock, message: Buffer[]): Promise<void> {
  await pub.send(message);
  assertFrames(await receiveData(sub), message, "subscriber received");
}

const RR_BINDER = "rr-binder";
const RR_CONNECTER = "rr-connecter";

const SPECS: readonly PairSpec[] = [
  {
    a: "Push",
    b: "Pull",
    async roundTrip({ a, b }, request) {
      await a.send(request);
      assertFrames(await b.receive(), request, "PULL received");
    },
  },
  {
    a: "Publisher",
    b: "Subscriber",
    async prepare({ a, b }) {
      b.subscribe();
      await primeAll(a, b);
    },
    roundTrip: ({ a, b }, request) => downstream(a, b, request),
  },
  {
    a: "XPublisher",
    b: "XSubscriber",
    async prepare({ a, b }) {
      await b.send(SUBSCRIBE_ALL);
      await primeAll(a, b);
      assertFrames(await a.receive(), [SUBSCRIBE_ALL], "XPUB saw the subscription");
    },
    async roundTrip({ a, b }, request, reply) {
      await downstream(a, b, request);
      await b.send(reply);
      assertFrames(await a.receive(), reply, "XPUB received the upstream message");
    },
  },
  {
    a: "XPublisher",
    b: "Subscriber",
    async prepare({ a, b }) {
      b.subscribe();
      await primeAll(a, b);
      assertFrames(await a.receive(), [SUBSCRIBE_ALL], "XPUB saw the subscription");
    },
    roundTrip: ({ a, b }, request) => downstream(a, b, request),
  },
  {
    a: "Publisher",
    b: "XSubscriber",
    async prepare({ a, b }) {
      await b.send(SUBSCRIBE_ALL);
      await primeAll(a, b);
    },
    roundTrip: ({ a, b }, request) => downstream(a, b, request),
  },
  {
    a: "Request",
    b: "Reply",
    async roundTrip({ a, b }, request, reply) {
      await a.send(request);
      assertFrames(await b.receive(), request, "REP received");
      await b.send(reply);
      assertFrames(await a.receive(), reply, "REQ received");
    },
  },
  {
    a: "Request",
    b: "Router",
    async roundTrip({ a, b }, request, reply) {
      await a.send(request);
      const [id, ...rest] = await b.receive();
      assert.ok(id && id.length > 0, "ROUTER prepends a routing id");
      assertFrames(rest, ["", ...request], "ROUTER received delimiter and body");
      await b.send([id, "", ...reply]);
      assertFrames(await a.receive(), reply, "REQ received");
    },
  },
  {
    a: "Dealer",
    b: "Reply",
    async roundTrip({ a, b }, request, reply) {
      await a.send(["", ...request]);
      assertFrames(await b.receive(), request, "REP received");
      await b.send(reply);
      assertFrames(await a.receive(), ["", ...reply], "DEALER received delimiter and body");
    },
  },
  {
    a: "Dealer",
    b: "Router",
    async roundTrip({ a, b }, request, reply) {
      await a.send(request);
      const [id, ...rest] = await b.receive();
      assert.ok(id && id.length > 0, "ROUTER prepends a routing id");
      assertFrames(rest, request, "ROUTER received");
      await b.send([id, ...reply]);
      assertFrames(await a.receive(), reply, "DEALER received");
    },
  },
  {
    a: "Dealer",
    b: "Dealer",
    symmetric: true,
    async roundTrip({ a, b }, request, reply) {
      await a.send(request);
      assertFrames(await b.receive(), request, "DEALER received");
      await b.send(reply);
      assertFrames(await a.receive(), reply, "DEALER received");
    },
  },
  {
    a: "Router",
    b: "Router",
    symmetric: true,
    binderOptions: { routingId: RR_BINDER },
    connecterOptions: { routingId: RR_CONNECTER, mandatory: true },
    connectOptions: { routingId: RR_BINDER },
    awaitHandshake: true,
    async roundTrip({ binder, connecter }, request, reply) {
      await connecter.send([RR_BINDER, ...request]);
      assertFrames(await binder.receive(), [RR_CONNECTER, ...request], "binding ROUTER received");
      await binder.send([RR_CONNECTER, ...reply]);
      assertFrames(await connecter.receive(), [RR_BINDER, ...reply], "connecting ROUTER received");
    },
  },
  {
    a: "Pair",
    b: "Pair",
    symmetric: true,
    async roundTrip({ a, b }, request, reply) {
      await a.send(request);
      assertFrames(await b.receive(), request, "PAIR received");
      await b.send(reply);
      assertFrames(await a.receive(), reply, "PAIR received");
    },
  },
];

const EXCHANGES: ReadonlyArray<readonly [Buffer[], Buffer[]]> = [
  [frames("alpha", "", "gamma"), frames("delta", "", "", "zeta")],
  [frames("", "middle", ""), frames("")],
  [frames("single"), frames("x", "y", "z", "w", "v")],
];

const SIZES = [0, 255, 256, MiB] as const;

async function openCell(
  scope: Scope,
  spec: PairSpec,
  aSide: Side,
  binderSide: Side,
  transport: Transport,
): Promise<Cell> {
  const aBinds = aSide === binderSide;
  const optionsFor = (binds: boolean): Record<string, unknown> =>
    (binds ? spec.binderOptions : spec.connecterOptions) ?? {};
  const a = scope.open(aSide, spec.a, optionsFor(aBinds));
  const b = scope.open(other(aSide), spec.b, optionsFor(!aBinds));
  const binder = aBinds ? a : b;
  const connecter = aBinds ? b : a;
  const endpoint = await scope.bind(binder, transport);
  const handshake = spec.awaitHandshake ? scope.nextEvent(connecter, "handshake", 5000, "connecter") : undefined;
  connectTo(connecter, endpoint, spec.connectOptions);
  if (handshake) await handshake;
  return { a, b, binder, connecter };
}

function cellName(spec: PairSpec, aSide: Side, binderSide: Side, transport: Transport): string {
  const pair = `${SHORT_NAME[spec.a]}-${SHORT_NAME[spec.b]}`;
  const roleOf = (side: Side): string => {
    const kind = spec.symmetric || side === aSide ? spec.a : spec.b;
    return `${side.name} ${SHORT_NAME[kind]}`;
  };
  return `${pair} over ${transport}: ${roleOf(binderSide)} binds, ${roleOf(other(binderSide))} connects`;
}

for (const spec of SPECS) {
  const aSides = spec.symmetric ? [SWITCHBOARD] : [SWITCHBOARD, LIBZMQ];
  for (const aSide of aSides) {
    for (const binderSide of SIDES) {
      for (const transport of TRANSPORTS) {
        test(cellName(spec, aSide, binderSide, transport), { timeout: 30_000 }, (t) =>
          withScope(async (scope) => {
            const cell = await openCell(scope, spec, aSide, binderSide, transport);
            await spec.prepare?.(cell);
            await t.test("multipart messages with empty frames", { timeout: 10_000 }, async () => {
              for (const [request, reply] of EXCHANGES) await spec.roundTrip(cell, request, reply);
            });
            await t.test("message sizes 0, 255, 256 and 1 MiB", { timeout: 15_000 }, async () => {
              for (const size of SIZES) {
                const request = payload(size, 1);
                const reply = payload(size, 2);
                assert.equal(buf(request).length, size);
                await spec.roundTrip(cell, [request], [reply]);
              }
            });
          }),
        );
      }
    }
  }
}
