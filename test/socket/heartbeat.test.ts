// ZMTP heartbeats and reconnect back-off, on fake clocks: idle links stay up
// while PINGs flow, a silent peer is detected after heartbeatTimeout, a
// peer's PING TTL is honoured, and "connect:retry" intervals follow
// reconnectInterval / reconnectMaxInterval. Heartbeats are a ZMTP (stream)
// matter, so these run over tcp and ipc; inproc links have no heartbeats.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Dealer } from "../../src/index.js";
import { bindUnique, laterEndpoint } from "../helpers/endpoints.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { RawServer, type RawConnection } from "../helpers/raw-zmtp.js";
import { errorCodeOf, nextEvent, reconnectOnClock, recordEvents, socketScope, strings } from "../helpers/sockets.js";
import { StreamTap } from "../helpers/stream-tap.js";

const T = { timeout: 5_000 };
const track = socketScope();

/** A Dealer on `clock` connected to a raw ROUTER peer, both sides past the handshake. */
async function dealerOnRawPeer(
  transport: "tcp" | "ipc",
  clock: FakeClock,
  options: ConstructorParameters<typeof Dealer>[0],
): Promise<{ dealer: Dealer; server: RawServer; peer: RawConnection }> {
  const server = await RawServer.listen("ROUTER", { transport });
  const dealer = track(new Dealer({ ...options, clock }));
  const up = nextEvent(dealer, "handshake");
  dealer.connect(server.endpoint);
  const peer = await server.accepted();
  await Promise.all([up, peer.ready]);
  return { dealer, server, peer };
}

for (const transport of ["tcp", "ipc"] as const) {
  describe(`heartbeats over ${transport}`, () => {
    it("keeps an idle link alive while both sides exchange PINGs (fake clocks on both sides)", T, async () => {
      const tap = new StreamTap();
      try {
        const [clockA, clockB] = [new FakeClock(), new FakeClock()];
        const options = { heartbeatInterval: 100 }; // heartbeatTimeout defaults to the interval
        const a = track(new Dealer({ ...options, clock: clockA }));
        const b = track(new Dealer({ ...options, clock: clockB }));
        const address = await bindUnique(a, transport);
        const upA = nextEvent(a, "handshake");
        const upB = nextEvent(b, "handshake");
        b.connect(address);
        await Promise.all([upA, upB]);
        const dropsA = recordEvents(a, "disconnect");
        const dropsB = recordEvents(b, "disconnect");
        assert.equal(tap.streams, 2);

        for (let round = 0; round < 10; round++) {
          const mark = tap.mark();
          // Each tick first checks the previous PING was followed by traffic,
          // then sends the next PING.
          clockA.tick(100);
          clockB.tick(100);
          assert.deepEqual([...dropsA, ...dropsB], [], `link dropped in round ${round}`);
          // Both PINGs went out; wait until each side has read the other's.
          await tap.eachReadSince(mark);
        }
        clockA.tick(100);
        clockB.tick(100);
        assert.deepEqual([...dropsA, ...dropsB], []);
        await b.send("still here");
        assert.deepEqual(strings(await a.receive()), ["still here"]);
      } finally {
        tap.close();
      }
    });

    it("sends PINGs every heartbeatInterval and stays up while the peer answers them", T, async () => {
      const clock = new FakeClock();
      const { dealer, server, peer } = await dealerOnRawPeer(transport, clock, { heartbeatInterval: 100 });
      try {
        const drops = recordEvents(dealer, "disconnect");
        for (let round = 0; round < 5; round++) {
          clock.tick(100);
          assert.deepEqual(drops, [], `dropped in round ${round}`);
          const ping = await peer.nextCommand("PING");
          peer.pong(ping);
          // Our own PING after the PONG: its answer proves the PONG was read first.
          peer.ping(`round ${round}`);
          const pong = await peer.nextCommand("PONG");
          assert.equal(pong.data.toString(), `round ${round}`);
        }
        clock.tick(100);
        assert.deepEqual(drops, []);
      } finally {
        server.close();
      }
    });

    it("reports a silent peer as disconnect (ERR_ZMTP_HEARTBEAT_TIMEOUT) after heartbeatTimeout, then reconnects", T, async () => {
      const clock = new FakeClock();
      const { dealer, server, peer } = await dealerOnRawPeer(transport, clock, {
        heartbeatInterval: 100, heartbeatTimeout: 250, reconnectInterval: 100,
      });
      try {
        const drops = recordEvents(dealer, "disconnect");
        const retry = nextEvent(dealer, "connect:retry");
        clock.tick(100); // first PING; the timeout runs from here
        await peer.nextCommand("PING");
        clock.tick(100); // second PING: does not restart the timeout
        await peer.nextCommand("PING");
        clock.tick(149);
        assert.deepEqual(drops, [], "dropped before heartbeatTimeout");
        clock.tick(1);
        assert.equal(drops.length, 1);
        assert.equal(errorCodeOf(drops[0]), "ERR_ZMTP_HEARTBEAT_TIMEOUT");
        await peer.closed;

        const { interval } = await retry;
        const again = nextEvent(dealer, "handshake");
        clock.tick(interval);
        const second = await server.accepted();
        await Promise.all([again, second.ready]);
      } finally {
        server.close();
      }
    });

    it("honours the TTL a peer puts in its PING", T, async () => {
      const clock = new FakeClock();
      const { dealer, server, peer } = await dealerOnRawPeer(transport, clock, {});
      try {
        const drops = recordEvents(dealer, "disconnect");
        peer.ping("ttl", 500);
        await peer.nextCommand("PONG");
        clock.tick(499);
        assert.deepEqual(drops, []);
        clock.tick(1);
        assert.equal(errorCodeOf(drops[0]), "ERR_ZMTP_HEARTBEAT_TIMEOUT");
      } finally {
        server.close();
      }
    });
  });

  describe(`reconnect back-off over ${transport}`, () => {
    /** The intervals of the first `count` "connect:retry" events, moving the clock by each. */
    async function retryIntervals(dealer: Dealer, clock: FakeClock, address: string, count: number): Promise<number[]> {
      const intervals: number[] = [];
      let next = nextEvent(dealer, "connect:retry");
      dealer.connect(address);
      // The first attempt is immediate: the first retry comes without moving the clock.
      for (let i = 0; i < count; i++) {
        const { interval } = await next;
        intervals.push(interval);
        next = nextEvent(dealer, "connect:retry");
        clock.tick(interval);
      }
      return intervals;
    }

    it("retries every reconnectInterval plus up to one interval of jitter", T, async () => {
      const clock = new FakeClock();
      const dealer = track(new Dealer({ reconnectInterval: 100, clock }));
      const intervals = await retryIntervals(dealer, clock, await laterEndpoint(transport), 6);
      for (const interval of intervals) assert.ok(interval >= 100 && interval < 200, `intervals ${intervals.join(", ")}`);
    });

    it("doubles the base interval per failure up to reconnectMaxInterval", T, async () => {
      const clock = new FakeClock();
      const dealer = track(new Dealer({ reconnectInterval: 100, reconnectMaxInterval: 800, clock }));
      const intervals = await retryIntervals(dealer, clock, await laterEndpoint(transport), 7);
      const bases = [100, 200, 400, 800, 800, 800, 800];
      intervals.forEach((interval, i) => {
        assert.ok(interval >= bases[i]! && interval < bases[i]! + 100, `retry ${i}: ${intervals.join(", ")}`);
      });
    });

    it("starts again from reconnectInterval after a successful connection", T, async () => {
      const clock = new FakeClock();
      const address = await laterEndpoint(transport);
      const dealer = track(new Dealer({ reconnectInterval: 100, reconnectMaxInterval: 800, clock }));
      const grown = await retryIntervals(dealer, clock, address, 3);
      assert.ok(grown[2]! >= 400);
      const binder = track(new Dealer());
      await binder.bind(address);
      await reconnectOnClock(dealer, clock, nextEvent(dealer, "handshake"));
      const retried = nextEvent(dealer, "connect:retry");
      binder.close();
      const { interval } = await retried;
      assert.ok(interval >= 100 && interval < 200, `first retry after a link: ${interval}`);
    });
  });
}
