// Request-reply routing against libzmq: ROUTER addressing by explicit and
// generated routing ids, REQ/REP lockstep with several REQ peers, and a
// DEALER with 100 requests in flight to a ROUTER.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  assertFrames,
  other,
  SIDES,
  TRANSPORTS,
  withScope,
  type Sock,
} from "./harness.js";

for (const routerSide of SIDES) {
  const peerSide = other(routerSide);
  for (const routerBinds of [true, false]) {
    for (const transport of TRANSPORTS) {
      const binding = routerBinds ? "ROUTER binds" : "DEALERs bind";
      const name =
        `${routerSide.name} ROUTER addresses ${peerSide.name} DEALERs by their routingId ` +
        `(${binding}, ${transport})`;
      test(name, { timeout: 15_000 }, () =>
        withScope(async (scope) => {
          const router = scope.open(routerSide, "Router");
          const names = ["left", "right"] as const;
          const dealers = names.map((id) => scope.open(peerSide, "Dealer", { routingId: id }));
          if (routerBinds) {
            const endpoint = await scope.bind(router, transport);
            for (const dealer of dealers) dealer.connect(endpoint);
          } else {
            for (const dealer of dealers) router.connect(await scope.bind(dealer, transport));
          }

          // Each DEALER speaks first; the ROUTER sees its chosen id.
          for (const [i, dealer] of dealers.entries()) await dealer.send(["hello from", names[i]!, ""]);
          const seen = new Map<string, string>();
          for (let i = 0; i < dealers.length; i++) {
            const [id, ...rest] = await router.receive();
            assert.ok(id, "routing id frame");
            assertFrames(rest.slice(0, 1), ["hello from"], "DEALER body");
            assert.equal(rest.length, 3);
            seen.set(id.toString(), rest[1]!.toString());
          }
          assert.deepEqual(Object.fromEntries(seen), { left: "left", right: "right" });

          // The ROUTER picks the destination by id, in an order of its choosing.
          await router.send(["right", "for right", ""]);
          await router.send(["left", "for left"]);
          await router.send(["right", "again right"]);
          assertFrames(await dealers[0]!.receive(), ["for left"], "left DEALER");
          assertFrames(await dealers[1]!.receive(), ["for right", ""], "right DEALER");
          assertFrames(await dealers[1]!.receive(), ["again right"], "right DEALER");
        }),
      );
    }
  }
}

for (const routerSide of SIDES) {
  const peerSide = other(routerSide);
  for (const transport of TRANSPORTS) {
    const name = `${routerSide.name} ROUTER generates ids for anonymous ${peerSide.name} DEALERs and REQ (${transport})`;
    test(name, { timeout: 15_000 }, () =>
      withScope(async (scope) => {
        const router = scope.open(routerSide, "Router");
        const endpoint = await scope.bind(router, transport);
        const dealers = [scope.open(peerSide, "Dealer"), scope.open(peerSide, "Dealer")];
        const req = scope.open(peerSide, "Request");
        for (const peer of [...dealers, req]) peer.connect(endpoint);

        await dealers[0]!.send("dealer-0");
        await dealers[1]!.send("dealer-1");
        await req.send("req");
        const ids = new Map<string, Buffer>();
        for (let i = 0; i < 3; i++) {
          const message = await router.receive();
          const id = message[0]!;
          assert.ok(id.length > 0, "generated routing id is not empty");
          const body = message[message.length - 1]!.toString();
          if (body === "req") assert.equal(message[1]!.length, 0, "REQ envelope has an empty delimiter");
          ids.set(body, id);
        }
        assert.equal(ids.size, 3);
        const distinct = new Set([...ids.values()].map((id) => id.toString("hex")));
        assert.equal(distinct.size, 3, "generated ids are distinct");

        await router.send([ids.get("req")!, "", "reply to req"]);
        await router.send([ids.get("dealer-1")!, "reply to dealer-1"]);
        await router.send([ids.get("dealer-0")!, "reply to dealer-0"]);
        assertFrames(await req.receive(), ["reply to req"], "REQ");
        assertFrames(await dealers[1]!.receive(), ["reply to dealer-1"], "dealer-1");
        assertFrames(await dealers[0]!.receive(), ["reply to dealer-0"], "dealer-0");

        // The same peer keeps its generated id.
        await dealers[0]!.send("dealer-0 again");
        const [id] = await router.receive();
        assert.ok(id?.equals(ids.get("dealer-0")!), "id is stable for a connection");
      }),
    );
  }
}

for (const repSide of SIDES) {
  const reqSide = other(repSide);
  test(`${repSide.name} REP serves three ${reqSide.name} REQs in lockstep (tcp)`, { timeout: 15_000 }, () =>
    withScope(async (scope) => {
      const rep = scope.open(repSide, "Reply");
      const endpoint = await scope.bind(rep, "tcp");
      const rounds = 5;
      const reqs = [0, 1, 2].map((i) => {
        const req = scope.open(reqSide, "Request", { routingId: `req-${i}` });
        req.connect(endpoint);
        return req;
      });

      const served: string[][] = [];
      const server = (async () => {
        for (let n = 0; n < reqs.length * rounds; n++) {
          const request = await rep.receive();
          served.push(request.map((f) => f.toString()));
          await rep.send([...request, "", "ok"]);
        }
      })();
      const client = async (req: Sock, i: number): Promise<void> => {
        for (let round = 0; round < rounds; round++) {
          await req.send([`client-${i}`, String(round)]);
          assertFrames(await req.receive(), [`client-${i}`, String(round), "", "ok"], `reply to client ${i}`);
        }
      };
      await Promise.all([server, ...reqs.map(client)]);

      for (let i = 0; i < reqs.length; i++) {
        const roundsSeen = served.filter(([who]) => who === `client-${i}`).map(([, round]) => Number(round));
        assert.deepEqual(roundsSeen, [0, 1, 2, 3, 4], `client ${i} requests were served one at a time, in order`);
      }
    }),
  );
}

for (const dealerSide of SIDES) {
  const routerSide = other(dealerSide);
  for (const transport of TRANSPORTS) {
    const name = `${dealerSide.name} DEALER has 100 requests in flight to ${routerSide.name} ROUTER (${transport})`;
    test(name, { timeout: 20_000 }, () =>
      withScope(async (scope) => {
        const count = 100;
        const router = scope.open(routerSide, "Router");
        const dealer = scope.open(dealerSide, "Dealer");
        dealer.connect(await scope.bind(router, transport));

        for (let i = 0; i < count; i++) await dealer.send(["req", String(i), Buffer.alloc(i * 10, i)]);

        // Take every request before answering any, then answer in reverse.
        const pending: Buffer[][] = [];
        for (let i = 0; i < count; i++) pending.push(await router.receive());
        assert.deepEqual(
          pending.map((m) => Number(m[2]!.toString())),
          Array.from({ length: count }, (_, i) => i),
          "requests arrive in the order sent",
        );
        for (const [id, , seq, body] of pending.reverse()) {
          const n = Number(seq!.toString());
          assert.ok(body!.equals(Buffer.alloc(n * 10, n)), `request ${n} body intact`);
          await router.send([id!, "rep", seq!, String(n * n)]);
        }

        const answered = new Map<number, number>();
        for (let i = 0; i < count; i++) {
          const [tag, seq, value] = await dealer.receive();
          assert.equal(tag?.toString(), "rep");
          const n = Number(seq!.toString());
          assert.ok(!answered.has(n), `reply ${n} arrives once`);
          answered.set(n, Number(value!.toString()));
        }
        assert.equal(answered.size, count);
        for (const [n, square] of answered) assert.equal(square, n * n, `reply ${n} matches its request`);
      }),
    );
  }
}
