// REQ/REP contract, over every transport: lockstep on both sides (EFSM),
// envelopes, relaxed and correlate, several requesters and several repliers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Dealer, Reply, Request, Router, StateError } from "../../src/index.js";
import { bindUnique, forEachTransport } from "../helpers/endpoints.js";
import { nextEvent, socketScope, strings } from "../helpers/sockets.js";

const T = { timeout: 5_000 };
const track = socketScope();

const isEfsm = (error: unknown): boolean => error instanceof StateError && error.code === "EFSM";

forEachTransport((transport) => {
  describe(`REQ/REP over ${transport}`, () => {
    it("answers requests in lockstep, round after round", T, async () => {
      const rep = track(new Reply());
      const req = track(new Request());
      req.connect(await bindUnique(rep, transport));
      for (let i = 0; i < 5; i++) {
        await req.send(["question", String(i)]);
        assert.deepEqual(strings(await rep.receive()), ["question", String(i)]);
        await rep.send(["answer", String(i)]);
        assert.deepEqual(strings(await req.receive()), ["answer", String(i)]);
      }
    });

    it("REQ: a second send before the reply rejects with EFSM", T, async () => {
      const rep = track(new Reply());
      const req = track(new Request());
      req.connect(await bindUnique(rep, transport));
      await req.send("first");
      await assert.rejects(req.send("second"), isEfsm);
      // The state is unchanged: the first request is still answered.
      assert.deepEqual(strings(await rep.receive()), ["first"]);
      await rep.send("reply");
      assert.deepEqual(strings(await req.receive()), ["reply"]);
    });

    it("REQ: receive before any send rejects with EFSM", T, async () => {
      const req = track(new Request());
      req.connect(await bindUnique(track(new Reply()), transport));
      await assert.rejects(req.receive(), isEfsm);
    });

    it("REP: send before a request rejects with EFSM", T, async () => {
      const rep = track(new Reply());
      await bindUnique(rep, transport);
      await assert.rejects(rep.send("unasked"), isEfsm);
    });

    it("REP: a second receive before replying rejects with EFSM", T, async () => {
      const rep = track(new Reply());
      const req = track(new Request());
      req.connect(await bindUnique(rep, transport));
      await req.send("q");
      await rep.receive();
      await assert.rejects(rep.receive(), isEfsm);
      await rep.send("a");
      assert.deepEqual(strings(await req.receive()), ["a"]);
    });

    it("REP answers several REQs, each getting its own reply", T, async () => {
      const rep = track(new Reply());
      const address = await bindUnique(rep, transport);
      const reqs = ["r0", "r1", "r2"].map((name) => {
        const req = track(new Request());
        req.connect(address);
        return { name, req };
      });
      await Promise.all(reqs.map(({ name, req }) => req.send(name)));
      for (let i = 0; i < reqs.length; i++) {
        const [who] = strings(await rep.receive());
        await rep.send(`reply to ${who}`);
      }
      for (const { name, req } of reqs) assert.deepEqual(strings(await req.receive()), [`reply to ${name}`]);
    });

    it("REQ round-robins its requests across REPs", T, async () => {
      const reps = [track(new Reply()), track(new Reply())];
      const req = track(new Request());
      for (const rep of reps) req.connect(await bindUnique(rep, transport));
      for (let i = 0; i < 4; i++) {
        await req.send(String(i));
        const rep = reps[i % 2]!;
        assert.deepEqual(strings(await rep.receive()), [String(i)]);
        await rep.send(`ok ${i}`);
        assert.deepEqual(strings(await req.receive()), [`ok ${i}`]);
      }
    });

    it("relaxed: a new request may go out before the reply, and only the last peer's reply counts", T, async () => {
      const reps = [track(new Reply()), track(new Reply())];
      const req = track(new Request({ relaxed: true }));
      for (const rep of reps) req.connect(await bindUnique(rep, transport));
      await req.send("abandoned");
      await req.send("current");
      const [first, second] = reps as [Reply, Reply];
      assert.deepEqual(strings(await first.receive()), ["abandoned"]);
      assert.deepEqual(strings(await second.receive()), ["current"]);
      // The stale reply from the first REP comes first and is dropped.
      await first.send("stale");
      await second.send("fresh");
      assert.deepEqual(strings(await req.receive()), ["fresh"]);
    });

    it("relaxed + correlate: the reply to an abandoned request on the same peer is ignored", T, async () => {
      const rep = track(new Reply());
      const req = track(new Request({ relaxed: true, correlate: true }));
      req.connect(await bindUnique(rep, transport));
      await req.send("q1");
      await req.send("q2");
      assert.deepEqual(strings(await rep.receive()), ["q1"]);
      await rep.send("a1");
      assert.deepEqual(strings(await rep.receive()), ["q2"]);
      await rep.send("a2");
      assert.deepEqual(strings(await req.receive()), ["a2"]);
    });

    it("correlate: a ROUTER sees the request id before the delimiter, and a wrong id is ignored", T, async () => {
      const router = track(new Router());
      const req = track(new Request({ correlate: true }));
      req.connect(await bindUnique(router, transport));
      await req.send("q");
      const [id, requestId, delimiter, body] = await router.receive();
      assert.equal(requestId?.length, 4);
      assert.equal(delimiter?.length, 0);
      assert.equal(body?.toString(), "q");
      const wrong = Buffer.from(requestId!);
      wrong.writeUInt32BE((wrong.readUInt32BE(0) + 1) >>> 0);
      await router.send([id!, wrong, "", "wrong id"]);
      await router.send([id!, requestId!, "", "right id"]);
      assert.deepEqual(strings(await req.receive()), ["right id"]);
    });

    it("REQ to ROUTER: the request carries an empty delimiter, the reply comes back without it", T, async () => {
      const router = track(new Router());
      const req = track(new Request({ routingId: "req-1" }));
      req.connect(await bindUnique(router, transport));
      await req.send(["a", "b"]);
      assert.deepEqual(strings(await router.receive()), ["req-1", "", "a", "b"]);
      await router.send(["req-1", "", "reply"]);
      assert.deepEqual(strings(await req.receive()), ["reply"]);
    });

    it("DEALER to REP: the envelope is stripped on receive and restored on reply", T, async () => {
      const rep = track(new Reply());
      const dealer = track(new Dealer());
      dealer.connect(await bindUnique(rep, transport));
      await dealer.send(["hop-1", "hop-2", "", "question"]);
      assert.deepEqual(strings(await rep.receive()), ["question"]);
      await rep.send(["answer", "more"]);
      assert.deepEqual(strings(await dealer.receive()), ["hop-1", "hop-2", "", "answer", "more"]);
    });

    it("REP discards a request without an empty delimiter", T, async () => {
      const rep = track(new Reply());
      const dealer = track(new Dealer());
      dealer.connect(await bindUnique(rep, transport));
      await dealer.send(["no delimiter"]);
      await dealer.send(["", "proper"]);
      assert.deepEqual(strings(await rep.receive()), ["proper"]);
    });

    it("REP drops the reply to a requester that has gone, and serves the next one", T, async () => {
      const rep = track(new Reply());
      const address = await bindUnique(rep, transport);
      const gone = track(new Request());
      gone.connect(address);
      await gone.send("then leaves");
      assert.deepEqual(strings(await rep.receive()), ["then leaves"]);
      const left = nextEvent(rep, "disconnect");
      gone.close();
      await left;
      await rep.send("nobody hears this");

      const req = track(new Request());
      req.connect(address);
      await req.send("next");
      assert.deepEqual(strings(await rep.receive()), ["next"]);
      await rep.send("for next");
      assert.deepEqual(strings(await req.receive()), ["for next"]);
    });
  });
});
