// Socket lifecycle, over every transport: bind/unbind/connect/disconnect,
// close and what it does to pending operations, events, and endpoint errors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClosedError, Dealer, NotFoundError, Pair, Pull, Push, SwitchboardError } from "../../src/index.js";
import { bindUnique, forEachTransport, laterEndpoint, uniqueEndpoint } from "../helpers/endpoints.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { nextEvent, receiveStrings, recordEvents, settledWithin, socketScope, strings, turn } from "../helpers/sockets.js";

const T = { timeout: 5_000 };

/** Sequence numbers (first frame) received until the link's disconnect, then whatever was already queued. */
async function receiveUntilDisconnect(pull: Pull, gone: Promise<unknown>): Promise<number[]> {
  const seqs: number[] = [];
  const ended = gone.then(() => null);
  for (;;) {
    // A receive still waiting when the link is gone means nothing is queued.
    const next = pull.receive();
    next.catch(() => {});
    const message = await Promise.race([next, ended]);
    if (message === null) return seqs;
    seqs.push(Number(message[0]!.toString()));
  }
}
const track = socketScope();

const hasCode = (code: string) => (error: unknown): boolean => error instanceof SwitchboardError && error.code === code;
const isEbadf = (error: unknown): boolean => error instanceof ClosedError && error.code === "EBADF";

forEachTransport((transport) => {
  describe(`lifecycle over ${transport}`, () => {
    it("bind reports the resolved endpoint in lastEndpoint and a bind event", T, async () => {
      const pull = track(new Pull());
      const bound = nextEvent(pull, "bind");
      const requested = uniqueEndpoint(transport);
      await pull.bind(requested);
      const endpoint = pull.lastEndpoint;
      assert.ok(endpoint !== null);
      if (transport === "tcp") assert.match(endpoint, /^tcp:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
      else assert.equal(endpoint, requested);
      assert.equal((await bound).address, endpoint);
    });

    it("reports connect and handshake on the connecter, accept and handshake on the binder", T, async () => {
      const pull = track(new Pull());
      const address = await bindUnique(pull, transport);
      const binder = recordEvents(pull, "accept", "handshake");
      const binderUp = nextEvent(pull, "handshake");
      const push = track(new Push());
      const connecter = recordEvents(push, "connect", "handshake");
      const connecterUp = nextEvent(push, "handshake");
      push.connect(address);
      await Promise.all([binderUp, connecterUp]);
      assert.deepEqual(connecter.map((e) => e.type), ["connect", "handshake"]);
      assert.deepEqual(binder.map((e) => e.type), ["accept", "handshake"]);
      for (const event of connecter) assert.equal((event as { address: string }).address, address);
    });

    it("delivers connect events to a listener attached right after connect()", T, async () => {
      // zeromq.js reports events asynchronously, so code that subscribes
      // after calling connect() must not miss them.
      const pull = track(new Pull());
      const address = await bindUnique(pull, transport);
      const push = track(new Push());
      push.connect(address);
      const up = nextEvent(push, "handshake");
      await up;
    });

    it("connects before the bind and links up once the endpoint is bound", T, async () => {
      const address = await laterEndpoint(transport);
      const a = track(new Pair());
      const connecterUp = nextEvent(a, "handshake");
      a.connect(address);
      const b = track(new Pair());
      await b.bind(address);
      await connecterUp;
      await a.send("after the bind");
      assert.deepEqual(strings(await b.receive()), ["after the bind"]);
    });

    it("binds and connects many endpoints on one socket", T, async () => {
      const pull = track(new Pull());
      const addresses = [await bindUnique(pull, transport), await bindUnique(pull, transport), await bindUnique(pull, transport)];
      assert.equal(new Set(addresses).size, 3);
      const pushes = addresses.map((address) => {
        const push = track(new Push());
        push.connect(address);
        return push;
      });
      // And one socket connected to many endpoints, while also bound.
      const hub = track(new Dealer());
      const hubAddress = await bindUnique(hub, transport);
      const peers = [track(new Dealer()), track(new Dealer())];
      for (const peer of peers) hub.connect(await bindUnique(peer, transport));

      for (const [i, push] of pushes.entries()) await push.send(`via ${i}`);
      const got = (await receiveStrings(pull, 3)).map((m) => m[0]).sort();
      assert.deepEqual(got, ["via 0", "via 1", "via 2"]);
      await hub.send("one");
      await hub.send("two");
      const hubbed = [strings(await peers[0]!.receive())[0], strings(await peers[1]!.receive())[0]];
      assert.deepEqual(hubbed, ["one", "two"]);
      const outside = track(new Dealer());
      outside.connect(hubAddress);
      await outside.send("into the hub");
      assert.deepEqual(strings(await hub.receive()), ["into the hub"]);
    });

    it("unbind closes the endpoint and its links; the endpoint can be bound again", T, async () => {
      const pull = track(new Pull());
      const address = await bindUnique(pull, transport);
      const push = track(new Push());
      const up = nextEvent(push, "handshake");
      push.connect(address);
      await up;
      const closed = nextEvent(pull, "close");
      const dropped = nextEvent(push, "disconnect");
      await pull.unbind(address);
      assert.equal((await closed).address, address);
      await dropped;
      await assert.rejects(pull.unbind(address), hasCode("ENOENT"));
      const again = track(new Pull());
      await again.bind(address);
      await push.send("to the new binder");
      assert.deepEqual(strings(await again.receive()), ["to the new binder"]);
    });

    it("unbind and disconnect of an unknown endpoint reject with ENOENT", T, async () => {
      const push = track(new Push());
      await assert.rejects(push.unbind(uniqueEndpoint(transport)), (e: unknown) => e instanceof NotFoundError && e.code === "ENOENT");
      const neverConnected = transport === "tcp" ? "tcp://127.0.0.1:5555" : uniqueEndpoint(transport);
      assert.throws(() => push.disconnect(neverConnected), hasCode("ENOENT"));
    });

    it("disconnect stops using that endpoint and keeps the others", T, async () => {
      const pulls = [track(new Pull()), track(new Pull())];
      const [a, b] = [await bindUnique(pulls[0]!, transport), await bindUnique(pulls[1]!, transport)];
      const push = track(new Push());
      const gone = nextEvent(pulls[0]!, "disconnect");
      push.connect(a);
      push.connect(b);
      await push.send("first");
      assert.deepEqual(strings(await pulls[0]!.receive()), ["first"]);
      push.disconnect(a);
      await gone;
      for (let i = 0; i < 4; i++) await push.send(String(i));
      assert.deepEqual(await receiveStrings(pulls[1]!, 4), [["0"], ["1"], ["2"], ["3"]]);
      assert.throws(() => push.disconnect(a), hasCode("ENOENT"));
    });

    it("closing one side reports disconnect on the other", T, async () => {
      const a = track(new Pair());
      const b = track(new Pair());
      const up = nextEvent(b, "handshake");
      b.connect(await bindUnique(a, transport));
      await up;
      const gone = nextEvent(a, "disconnect");
      b.close();
      await gone;
    });

    it("close flushes messages already sent to a connected peer (default linger)", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      const up = nextEvent(push, "handshake");
      push.connect(await bindUnique(pull, transport));
      await up;
      for (let i = 0; i < 200; i++) await push.send(String(i));
      push.close();
      const got = await receiveStrings(pull, 200);
      assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => [String(i)]));
    });

    for (const [linger, expire] of [[100, false], [100, true], [0, false]] as const) {
      const what = linger === 0 ? "linger 0 drops what is still queued at close()"
        : expire ? "close() stops flushing once linger has run out"
        : "close() keeps flushing while linger runs";
      it(what, T, async () => {
        const clock = new FakeClock();
        const pull = track(new Pull({ receiveHighWaterMark: 1 }));
        const push = track(new Push({ sendHighWaterMark: 1, linger, clock }));
        const up = nextEvent(push, "handshake");
        push.connect(await bindUnique(pull, transport));
        await up;
        // Send until a send has to wait: the Pull is not reading, so the
        // link is blocked and the last message sent waits in the queue.
        const body = Buffer.alloc(64 * 1024);
        let sent = 0;
        for (; sent < 1000; sent++) {
          if ((await settledWithin(push.send([String(sent), body]), 20)) === "pending") break;
        }
        assert.ok(sent < 1000, "the sender never had to wait");
        const gone = nextEvent(pull, "disconnect");
        push.close();
        if (expire) clock.tick(linger);
        const got = await receiveUntilDisconnect(pull, gone);
        assert.deepEqual(got, got.map((_, i) => i), "a gap or reordering");
        if (linger > 0 && !expire) assert.equal(got.length, sent, "not everything was flushed");
        else assert.ok(got.length < sent, `the queued message was still delivered (${got.length} of ${sent})`);
      });
    }

    it("after close: closed is true and every operation fails with EBADF", T, async () => {
      const dealer = track(new Dealer());
      const address = await bindUnique(dealer, transport);
      assert.equal(dealer.closed, false);
      dealer.close();
      dealer.close(); // idempotent
      assert.equal(dealer.closed, true);
      await assert.rejects(dealer.send("x"), isEbadf);
      await assert.rejects(dealer.receive(), isEbadf);
      await assert.rejects(dealer.bind(uniqueEndpoint(transport)), isEbadf);
      await assert.rejects(dealer.unbind(address), isEbadf);
      assert.throws(() => dealer.connect(address), isEbadf);
      assert.throws(() => dealer.disconnect(address), isEbadf);
      assert.equal(dealer.readable, false);
      assert.equal(dealer.writable, false);
    });

    it("close rejects a pending receive and a pending send with EBADF", T, async () => {
      const pull = track(new Pull());
      await bindUnique(pull, transport);
      const receiving = pull.receive();
      const push = track(new Push());
      await bindUnique(push, transport);
      const sending = push.send("nobody takes this"); // no peer: waits
      await turn();
      pull.close();
      push.close();
      await assert.rejects(receiving, isEbadf);
      await assert.rejects(sending, isEbadf);
    });

    it("async iteration yields messages and ends when the socket closes", T, async () => {
      const pull = track(new Pull());
      const push = track(new Push());
      push.connect(await bindUnique(pull, transport));
      for (let i = 0; i < 3; i++) await push.send(String(i));
      const seen: string[] = [];
      for await (const [frame] of pull) {
        seen.push(frame!.toString());
        if (seen.length === 3) queueMicrotask(() => pull.close());
      }
      assert.deepEqual(seen, ["0", "1", "2"]);
    });

    it("event iteration ends with the socket, after an end event", T, async () => {
      const pull = track(new Pull());
      const types: string[] = [];
      const iterating = (async () => {
        for await (const event of pull.events) types.push(event.type);
      })();
      await bindUnique(pull, transport);
      pull.close();
      await iterating;
      assert.deepEqual([types[0], types[types.length - 1]], ["bind", "end"]);
      assert.equal(pull.events.closed, true);
    });

    it("Symbol.dispose closes the socket", T, () => {
      const push = track(new Push());
      push[Symbol.dispose]();
      assert.equal(push.closed, true);
    });

    it("binding an endpoint already bound rejects with EADDRINUSE", T, async () => {
      const first = track(new Pull());
      const address = await bindUnique(first, transport);
      const second = track(new Pull());
      await assert.rejects(second.bind(address), hasCode("EADDRINUSE"));
      await assert.rejects(first.bind(address), hasCode("EADDRINUSE"));
    });

    it("refuses a peer of an incompatible type with ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE", T, async () => {
      const a = track(new Push());
      const address = await bindUnique(a, transport);
      const b = track(new Push());
      const refused = nextEvent(b, "handshake:error:protocol");
      b.connect(address);
      const { error } = await refused;
      assert.equal(error.code, "ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE");
    });
  });
});

describe("endpoint errors", () => {
  it("bind and connect reject malformed endpoints with EINVAL and unknown transports with ENOTSUP", T, async () => {
    const push = track(new Push());
    await assert.rejects(push.bind("no-scheme"), hasCode("EINVAL"));
    await assert.rejects(push.bind("tcp://127.0.0.1:99999"), hasCode("EINVAL"));
    await assert.rejects(push.bind("udp://127.0.0.1:5555"), hasCode("ENOTSUP"));
    assert.throws(() => push.connect("tcp://127.0.0.1"), hasCode("EINVAL"));
    assert.throws(() => push.connect("tcp://127.0.0.1:0"), hasCode("EINVAL"));
    assert.throws(() => push.connect("inproc://"), hasCode("EINVAL"));
  });

  it("a failed tcp/ipc bind is also reported as a bind:error event", T, async () => {
    for (const transport of ["tcp", "ipc"] as const) {
      const first = track(new Pull());
      const address = await bindUnique(first, transport);
      const second = track(new Pull());
      const failed = nextEvent(second, "bind:error");
      await assert.rejects(second.bind(address), hasCode("EADDRINUSE"));
      const event = await failed;
      assert.equal(event.error.code, "EADDRINUSE");
    }
  });
});
