// Reconnection, over every transport: the binder goes away and comes back
// on the same endpoint; the connecter's queue survives the outage and a
// Subscriber subscribes again. Reconnect timers run on a fake clock.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { Publisher, Pull, Push, Subscriber, XPublisher } from "../../src/index.js";
import { forEachTransport, laterEndpoint, uniqueEndpoint } from "../helpers/endpoints.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { nextEvent, primeSubscription, receiveStrings, reconnectOnClock, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

const subscription = (frames: Buffer[]): string => `${frames[0]![0] === 1 ? "+" : "-"}${frames[0]!.subarray(1).toString()}`;

forEachTransport((transport) => {
  describe(`reconnect over ${transport}`, () => {
    it("messages queued before the first connection and during an outage all arrive, in order", T, async () => {
      const clock = new FakeClock();
      const address = await laterEndpoint(transport);
      const push = track(new Push({ clock }));
      push.connect(address);
      await push.send("before-1");
      await push.send("before-2");

      const first = track(new Pull());
      let up = nextEvent(push, "handshake");
      await first.bind(address);
      await reconnectOnClock(push, clock, up);
      await push.send("up");
      assert.deepEqual(await receiveStrings(first, 3), [["before-1"], ["before-2"], ["up"]]);

      const down = nextEvent(push, "disconnect");
      first.close();
      await down;
      await push.send("during-1");
      await push.send("during-2");

      const second = track(new Pull());
      up = nextEvent(push, "handshake");
      await second.bind(address);
      await reconnectOnClock(push, clock, up);
      await push.send("after");
      assert.deepEqual(await receiveStrings(second, 3), [["during-1"], ["during-2"], ["after"]]);
    });

    it("a Subscriber subscribes again when it reconnects", T, async () => {
      const clock = new FakeClock();
      const address = await laterEndpoint(transport);
      const first = track(new XPublisher());
      await first.bind(address);
      const sub = track(new Subscriber({ clock }));
      sub.subscribe("topic");
      let up = nextEvent(sub, "handshake");
      sub.connect(address);
      await reconnectOnClock(sub, clock, up);
      assert.equal(subscription(await first.receive()), "+topic");
      await first.send(["topic", "1"]);
      assert.deepEqual(strings(await sub.receive()), ["topic", "1"]);

      const down = nextEvent(sub, "disconnect");
      first.close();
      await down;

      const second = track(new XPublisher());
      up = nextEvent(sub, "handshake");
      await second.bind(address);
      await reconnectOnClock(sub, clock, up);
      assert.equal(subscription(await second.receive()), "+topic");
      await second.send(["topic", "2"]);
      assert.deepEqual(strings(await sub.receive()), ["topic", "2"]);
    });

    it("a Subscriber keeps receiving from a Publisher that came back", T, async () => {
      const clock = new FakeClock();
      const address = await laterEndpoint(transport);
      const sub = track(new Subscriber({ clock }));
      sub.subscribe("news");
      let up = nextEvent(sub, "handshake");
      sub.connect(address);
      const first = track(new Publisher());
      await first.bind(address);
      await reconnectOnClock(sub, clock, up);
      await primeSubscription((m) => first.send(m), sub, "news");

      const down = nextEvent(sub, "disconnect");
      first.close();
      await down;
      const second = track(new Publisher());
      up = nextEvent(sub, "handshake");
      await second.bind(address);
      await reconnectOnClock(sub, clock, up);
      await primeSubscription((m) => second.send(m), sub, "news");
      await second.send(["news", "from the second publisher"]);
      assert.deepEqual(strings(await sub.receive()), ["news", "from the second publisher"]);
    });
  });
});

describe("inproc reconnect pacing", () => {
  it("two live peers contending for one routing id (handover) do not reconnect in a tight loop", T, async () => {
    // A tight reconnect loop runs on microtasks and starves every timer,
    // including node:test's own timeout, so the scenario runs in a child
    // process that this test can kill.
    const index = new URL("../../src/index.js", import.meta.url).href;
    const clock = new URL("../helpers/fake-clock.js", import.meta.url).href;
    const address = uniqueEndpoint("inproc");
    const script = `
      import { Dealer, Router } from ${JSON.stringify(index)};
      import { FakeClock } from ${JSON.stringify(clock)};
      const router = new Router({ handover: true });
      await router.bind(${JSON.stringify(address)});
      let handshakes = 0;
      const peers = [0, 1].map(() => {
        // Fake clocks that never move: a peer may reconnect only by its back-off timer.
        const peer = new Dealer({ routingId: "contended", clock: new FakeClock() });
        peer.events.on("handshake", () => handshakes++);
        peer.connect(${JSON.stringify(address)});
        return peer;
      });
      setTimeout(() => {
        console.log(JSON.stringify({ handshakes }));
        for (const s of [router, ...peers]) { s.linger = 0; s.close(); }
      }, 20);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const killer = setTimeout(() => child.kill("SIGKILL"), 3_000);
    const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
    clearTimeout(killer);
    assert.equal(signal, null, "the process stopped running timers (tight reconnect loop) and had to be killed");
    assert.equal(code, 0, output);
    const { handshakes } = JSON.parse(output) as { handshakes: number };
    // Each peer links once; the displaced one then waits for its back-off timer.
    assert.ok(handshakes <= 3, `${handshakes} handshakes without the clock moving`);
  });
});
