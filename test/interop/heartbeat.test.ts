// ZMTP heartbeats against libzmq: an idle but healthy link survives many
// heartbeat timeouts, and a frozen libzmq process is detected quickly.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import {
  assertFrames,
  other,
  SIDES,
  SWITCHBOARD,
  withScope,
  type Side,
  type Sock,
} from "./harness.js";
import { RemotePeer } from "./remote.js";

const HEARTBEAT = { heartbeatInterval: 100, heartbeatTimeout: 300 };
/** Longer than three heartbeat timeouts. */
const IDLE_MS = 1000;
/** Generous upper bound for noticing a dead peer with a 300 ms heartbeat timeout. */
const DETECTION_BOUND_MS = 2000;

async function roundTrip(dealer: Sock, router: Sock, tag: string): Promise<void> {
  await dealer.send(tag);
  const [id, body] = await router.receive();
  assert.equal(body?.toString(), tag);
  await router.send([id!, `${tag}-reply`]);
  assertFrames(await dealer.receive(), [`${tag}-reply`], "DEALER got the reply");
}

for (const beating of SIDES) {
  for (const binder of SIDES) {
    const quiet = other(beating);
    const name =
      `idle link stays up: ${beating.name} sends heartbeats, ${quiet.name} only answers ` +
      `(${binder.name} ROUTER binds, tcp)`;
    test(name, { timeout: 15_000 }, () =>
      withScope(async (scope) => {
        const options = (side: Side): Record<string, unknown> => {
          if (side !== beating) return {};
          // Switchboard also announces a TTL, which libzmq then enforces on it.
          return side === SWITCHBOARD ? { ...HEARTBEAT, heartbeatTimeToLive: 1500 } : HEARTBEAT;
        };
        const router = scope.open(binder, "Router", options(binder));
        const dealer = scope.open(other(binder), "Dealer", options(other(binder)));
        dealer.connect(await scope.bind(router, "tcp"));
        await roundTrip(dealer, router, "first");

        const drops = [scope.countEvents(router, "disconnect"), scope.countEvents(dealer, "disconnect")];
        await delay(IDLE_MS);
        assert.deepEqual(
          drops.map((d) => d.count),
          [0, 0],
          "no disconnect on either side while idle",
        );
        await roundTrip(dealer, router, "after-idle");
      }),
    );
  }
}

for (const switchboardBinds of [false, true]) {
  const binding = switchboardBinds ? "switchboard ROUTER binds" : "libzmq ROUTER binds";
  test(`switchboard detects a frozen libzmq process by heartbeat timeout (${binding}, tcp)`, { timeout: 20_000 }, () =>
    withScope(async (scope) => {
      const peer = await RemotePeer.start(scope);
      let local: Sock;
      if (switchboardBinds) {
        local = scope.open(SWITCHBOARD, "Router", HEARTBEAT);
        const endpoint = await scope.bind(local, "tcp");
        await peer.open("Dealer", { routingId: "frozen" });
        await peer.connect(endpoint);
        await peer.send("hello");
        assertFrames(await local.receive(), ["frozen", "hello"], "ROUTER got the child's message");
        await local.send(["frozen", "welcome"]);
        assertFrames(await peer.receive(), ["welcome"], "child DEALER got the reply");
      } else {
        await peer.open("Router");
        const endpoint = await peer.bind("tcp://127.0.0.1:0");
        local = scope.open(SWITCHBOARD, "Dealer", HEARTBEAT);
        local.connect(endpoint);
        await local.send("hello");
        const [id, body] = await peer.receive();
        assert.equal(body?.toString(), "hello");
        await peer.send([id!, "welcome"]);
        assertFrames(await local.receive(), ["welcome"], "DEALER got the child's reply");
      }

      const dropped = scope.nextEvent(local, "disconnect", 10_000, "frozen peer detected");
      const started = performance.now();
      peer.pause();
      try {
        await dropped;
      } finally {
        peer.resume();
      }
      const elapsed = performance.now() - started;
      assert.ok(elapsed < DETECTION_BOUND_MS, `disconnect after ${Math.round(elapsed)} ms, bound ${DETECTION_BOUND_MS} ms`);
    }),
  );
}
