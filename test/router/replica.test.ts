// The directory replication engine: entries registered with one directory
// reach every directory linked to it (chains, cycles), filtered by vnets
// and scope, expire when their origin stops renewing, and go away when
// links or the origin drop them, without phantoms around cycles.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeMsg, encodeMsg } from "../../src/router/codec.js";
import { Address } from "../../src/router/address.js";
import { Msg } from "../../src/router/msg.js";
import { Replica } from "../../src/router/replica.js";
import { Net, entry } from "./replica-net.js";

const T = { timeout: 10_000 };

/** Builds a net of named nodes (vnets null) linked along `edges` ("A-B"). */
function topology(edges: string[], options: ConstructorParameters<typeof Net>[0] = {}): Net {
  const net = new Net(options);
  for (const edge of edges) for (const name of edge.split("-")) if (!net.nodes.has(name)) net.add(name);
  for (const edge of edges) {
    const [a, b] = edge.split("-") as [string, string];
    net.link(a, b);
  }
  net.settle();
  return net;
}

describe("Replica: propagation", () => {
  it("a registration reaches every directory of a chain, and a change follows it", T, () => {
    const net = topology(["A-B", "B-C", "C-D"]);
    const e = entry(1, 1, "svc", null, { v: 1 });
    net.node("A").register(e, 10_000);
    net.node("D").register(entry(4, 1), 10_000);
    net.settle();
    for (const name of ["A", "B", "C", "D"]) assert.deepEqual(net.view(name), [e.key, entry(4, 1).key].sort(), name);
    net.node("A").register(entry(1, 1, "svc", null, { v: 2 }), 10_000);
    net.settle();
    assert.deepEqual(net.node("D").query({ service: "svc", params: { v: 2 } }).map((x) => x.key), [e.key]);
  });

  it("a registration reaches every directory of a cycle, and the cycle falls quiet", T, () => {
    const net = topology(["A-B", "B-C", "C-D", "D-A", "A-C"]);
    net.node("B").register(entry(2, 1), 10_000);
    net.settle();
    for (const name of ["A", "B", "C", "D"]) assert.deepEqual(net.view(name), [entry(2, 1).key], name);
    net.pump();
    assert.equal(net.inFlight, 0);
  });

  it("never offers an entry to a directory on its path (split horizon)", T, () => {
    const net = topology(["A-B", "B-C", "C-D", "D-A", "B-D"]);
    net.node("A").register(entry(1, 1), 10_000);
    net.node("C").register(entry(3, 1), 10_000);
    net.settle();
    net.antiEntropyAll();
    net.settle();
    let offers = 0;
    for (const { to, update } of net.delivered) {
      for (const item of update.entries ?? []) {
        offers++;
        assert.ok(!item.path.includes(to), `${item.path.join(">")} offered to ${to}`);
        assert.equal(item.path[0], item.origin);
      }
    }
    assert.ok(offers > 0);
    // In a chain, nothing ever flows back towards the origin.
    const chain = topology(["A-B"]);
    chain.node("A").register(entry(1, 1), 10_000);
    chain.settle();
    assert.deepEqual(chain.view("B"), [entry(1, 1).key]);
    assert.equal(chain.delivered.filter((d) => d.from === "B" && (d.update.entries?.length ?? 0) > 0).length, 0);
  });
});

describe("Replica: vnets and scope", () => {
  it("offers an entry only to peers serving one of its vnets, and the local vnet never to a network peer", T, () => {
    const net = new Net();
    net.add("A");
    net.add("Ga", ["a"]);
    net.add("Gb", ["b"]);
    net.add("M", ["local"]);
    net.add("N", null);
    net.link("A", "Ga");
    net.link("A", "Gb");
    net.link("A", "M");
    net.link("A", "N", "network");
    const [ea, eb, eall, elocal, emixed] = [
      entry(1, 1, "svc", ["a"]),
      entry(1, 2, "svc", ["b"]),
      entry(1, 3, "svc", null),
      entry(1, 4, "svc", ["local"]),
      entry(1, 5, "svc", ["local", "a"]),
    ];
    for (const e of [ea, eb, eall, elocal, emixed]) net.node("A").register(e, 10_000);
    net.settle();
    assert.deepEqual(net.view("Ga"), [ea.key, eall.key, emixed.key].sort());
    assert.deepEqual(net.view("Gb"), [eb.key, eall.key].sort());
    assert.deepEqual(net.view("M"), [eall.key, elocal.key, emixed.key].sort());
    assert.deepEqual(net.view("N"), [ea.key, eb.key, eall.key, emixed.key].sort());
    // Across the network the mixed entry loses "local": a local query there does not find it.
    assert.deepEqual(net.node("N").query({ service: "svc", vnet: "local" }).map((e) => e.key), [eall.key]);
    assert.deepEqual(net.node("N").query({ service: "svc", vnet: "a" }).map((e) => e.key).sort(), [ea.key, eall.key, emixed.key].sort());
  });

  it("when a peer's vnets change it loses the entries it no longer serves and gets the new ones", T, () => {
    const net = new Net();
    net.add("A");
    net.add("B", ["a"]);
    net.add("C", null);
    net.link("A", "B");
    net.link("B", "C");
    net.node("A").register(entry(1, 1, "svc", ["a"]), 10_000);
    net.node("A").register(entry(1, 2, "svc", ["b"]), 10_000);
    net.settle();
    assert.deepEqual(net.view("B"), [entry(1, 1).key]);
    assert.deepEqual(net.view("C"), [entry(1, 1).key]);
    net.serve("B", ["b"]);
    net.settle();
    assert.deepEqual(net.view("B"), [entry(1, 2).key]);
    assert.deepEqual(net.view("C"), [entry(1, 2).key]);
  });
});

describe("Replica: expiry", () => {
  /** Calls `beat` every `every` ms for `forMs` ms; updates take `transit` ms per link (up to 8 hops per beat). */
  function run(net: Net, forMs: number, every: number, transit: number, beat: () => void): void {
    const end = net.clock.now() + forMs;
    while (net.clock.now() < end) {
      beat();
      for (let hop = 0; hop < 8; hop++) {
        net.pump();
        net.clock.tick(transit);
        net.deliverAll();
      }
      net.expireAll();
      net.clock.tick(every - 8 * transit);
    }
  }

  for (const [name, edges] of [
    ["a chain", ["A-B", "B-C", "C-D"]],
    ["a cycle", ["A-B", "B-C", "C-D", "D-A", "B-D"]],
  ] as const) {
    for (const silent of [false, true]) {
      const how = silent ? "its origin goes silent (no withdrawal, links not noticed)" : "its origin stops renewing";
      it(`a renewed entry lives on, and expires everywhere in ${name} once ${how}`, T, () => {
        const net = topology([...edges]);
        const e = entry(1, 1);
        const ttl = 1_000;
        const transit = 10;
        run(net, 5_000, 300, transit, () => net.node("A").register(e, ttl));
        for (const n of ["B", "C", "D"]) assert.deepEqual(net.view(n), [e.key], `${n} while renewed`);
        const lastRenewal = net.clock.now() - 300;
        if (silent) net.muted.add("A");
        // Relays keep exchanging snapshots, each update taking `transit` ms,
        // but never extend the entry: it is gone once the TTL and the transit
        // along the path (three hops at most) have passed.
        run(net, ttl - 300 + 100, 100, transit, () => net.antiEntropyAll());
        assert.ok(net.clock.now() <= lastRenewal + ttl + 100);
        for (const n of ["A", "B", "C", "D"]) {
          assert.deepEqual(net.view(n), [], n);
          assert.equal(net.node(n).size, 0, n);
        }
      });
    }
  }

  it("expire() drops what is past its expiry and counts it; query() hides it before that", T, () => {
    const net = topology(["A-B"]);
    net.node("A").register(entry(1, 1), 100);
    net.node("A").register(entry(1, 2), 500);
    net.settle();
    net.clock.tick(100);
    assert.deepEqual(net.view("B"), [entry(1, 2).key]);
    assert.equal(net.node("B").size, 2);
    assert.equal(net.node("B").expire(), 1);
    assert.equal(net.node("A").expire(), 1);
    assert.equal(net.node("B").size, 1);
  });
});

describe("Replica: links going down", () => {
  it("peerDown drops entries reachable only through that peer and keeps ones reachable another way", T, () => {
    const net = topology(["A-B", "A-C", "B-D", "C-D", "D-E"]);
    net.node("A").register(entry(1, 1), 10_000);
    net.node("B").register(entry(2, 1), 10_000);
    net.settle();
    net.unlink("B", "D");
    net.settle();
    for (const n of ["A", "B", "C", "D", "E"]) assert.deepEqual(net.view(n), [entry(1, 1).key, entry(2, 1).key].sort(), n);
    net.unlink("D", "E");
    net.settle();
    assert.deepEqual(net.view("E"), []);
    assert.equal(net.node("E").size, 0);
    assert.deepEqual(net.view("D"), [entry(1, 1).key, entry(2, 1).key].sort());
  });

  it("leaves no phantom in a cycle when the origin's links go (no mutual support)", T, () => {
    const net = topology(["O-A", "A-B", "B-C", "C-A"]);
    net.node("O").register(entry(9, 1), 60_000);
    net.settle();
    assert.deepEqual(net.view("C"), [entry(9, 1).key]);
    net.unlink("O", "A");
    net.settle();
    for (const n of ["A", "B", "C"]) assert.equal(net.node(n).size, 0, n);
    assert.deepEqual(net.view("O"), [entry(9, 1).key]);
  });

  it("a restarted directory learns everything again on peerUp, and its own new registrations win", T, () => {
    const net = topology(["A-B", "B-C", "C-A"]);
    net.node("A").register(entry(1, 1, "svc", null, { v: 1 }), 10_000);
    net.node("A").register(entry(1, 1, "svc", null, { v: 2 }), 10_000);
    net.node("C").register(entry(3, 1), 10_000);
    net.settle();
    // A restarts: its old copies stay with B and C (their links came back without a peerDown).
    const a = net.restart("A");
    net.link("A", "B");
    net.link("A", "C");
    a.register(entry(1, 1, "svc", null, { v: 3 }), 10_000);
    net.settle();
    for (const n of ["A", "B", "C"]) {
      assert.deepEqual(net.view(n), [entry(1, 1).key, entry(3, 1).key].sort(), n);
      assert.deepEqual(net.node(n).query({ service: "svc", params: { v: 3 } }).length, 1, n);
    }
    // B restarts with a peerDown first: it learns everything again.
    net.unlink("A", "B");
    net.unlink("B", "C");
    net.restart("B");
    net.link("A", "B");
    net.link("B", "C");
    net.settle();
    assert.deepEqual(net.view("B"), [entry(1, 1).key, entry(3, 1).key].sort());
  });

  it("a restarted origin's new content wins even under a version its previous incarnation used", T, () => {
    const net = new Net();
    net.add("A");
    net.add("B");
    net.add("C", ["a"]);
    net.link("A", "B");
    net.link("B", "C");
    net.node("A").register(entry(1, 1, "svc", ["b"]), 10_000);
    net.settle();
    assert.deepEqual(net.view("C"), []);
    net.restart("A").register(entry(1, 1, "svc", ["a"]), 10_000);
    net.link("A", "B");
    net.settle();
    assert.deepEqual(net.node("B").query({ service: "svc", vnet: "a" }).length, 1);
    assert.deepEqual(net.view("C"), [entry(1, 1).key]);
  });

  it("a restarted directory withdraws the entries its previous incarnation had", T, () => {
    const net = topology(["A-B", "B-C"]);
    net.node("A").register(entry(1, 1), 10_000);
    net.settle();
    net.restart("A");
    net.link("A", "B");
    net.settle();
    for (const n of ["A", "B", "C"]) assert.equal(net.node(n).size, 0, n);
  });
});

describe("Replica: unregister", () => {
  it("removes the entry everywhere, and a stale copy does not come back around a cycle", T, () => {
    const net = topology(["A-B", "B-C", "C-A"]);
    const e = entry(1, 1);
    net.node("A").register(e, 10_000);
    net.settle();
    // C's snapshot (still holding the entry) is on its way to B when A unregisters.
    net.node("C").antiEntropy();
    net.pump();
    assert.equal(net.node("A").unregister(e.key), true);
    assert.equal(net.node("A").unregister(e.key), false);
    net.pump();
    assert.ok(net.deliverOne("A", "B"));
    assert.deepEqual(net.view("B"), []);
    assert.ok(net.deliverOne("C", "B"));
    assert.deepEqual(net.view("B"), [], "the stale copy from C was refused");
    net.settle();
    for (const n of ["A", "B", "C"]) assert.equal(net.node(n).size, 0, n);
    // Registering again later is newer than the deletion.
    net.node("A").register(e, 10_000);
    net.settle();
    for (const n of ["A", "B", "C"]) assert.deepEqual(net.view(n), [e.key], n);
  });

  it("only the owner unregisters", T, () => {
    const net = topology(["A-B"]);
    net.node("A").register(entry(1, 1), 10_000);
    net.settle();
    assert.equal(net.node("B").unregister(entry(1, 1).key), false);
    assert.deepEqual(net.view("B"), [entry(1, 1).key]);
  });
});

describe("Replica: repair and bounds", () => {
  it("anti-entropy repairs a lost offer, a lost deletion and a lost withdrawal", T, () => {
    const net = topology(["X-A", "A-B", "B-C"]);
    const [e1, e2, ex] = [entry(1, 1), entry(1, 2), entry(9, 1)];
    net.node("A").register(e1, 10_000);
    net.node("A").register(e2, 10_000);
    net.pump();
    assert.ok(net.dropOne("A", "B"));
    net.settle();
    assert.deepEqual(net.view("C"), []);
    net.node("A").antiEntropy();
    net.settle();
    assert.deepEqual(net.view("C"), [e1.key, e2.key].sort());

    net.node("A").unregister(e1.key);
    net.pump();
    assert.ok(net.dropOne("A", "B"));
    net.settle();
    assert.deepEqual(net.view("B"), [e1.key, e2.key].sort(), "the deletion was lost");
    net.node("A").antiEntropy();
    net.settle();
    assert.deepEqual(net.view("B"), [e2.key]);
    assert.deepEqual(net.view("C"), [e2.key]);

    net.node("X").register(ex, 10_000);
    net.settle();
    assert.deepEqual(net.view("C"), [e2.key, ex.key].sort());
    net.unlink("X", "A");
    net.pump();
    assert.ok(net.dropOne("A", "B"));
    net.settle();
    assert.deepEqual(net.view("B"), [e2.key, ex.key].sort(), "the withdrawal was lost");
    net.node("A").antiEntropy();
    net.settle();
    assert.deepEqual(net.view("B"), [e2.key]);
    assert.deepEqual(net.view("C"), [e2.key]);
  });

  it("rejects and counts bad updates, caps TTLs, ignores unknown peers, and never throws", T, () => {
    const net = new Net({ maxTtlMs: 2_000 });
    const b = net.add("B");
    net.add("A");
    net.link("A", "B");
    const good = { entry: entry(1, 1).toJSON(), origin: "A", seq: 1, ttlMs: 1e12, path: ["A"] };
    assert.deepEqual(b.receive("A", "nonsense"), { accepted: 0, rejected: 1, refused: 0 });
    assert.deepEqual(b.receive("Z", { entries: [good] }), { accepted: 0, rejected: 0, refused: 0 });
    const bad = [
      { ...good, entry: { service: 3 } },
      { ...good, ttlMs: -5 },
      { ...good, ttlMs: Number.NaN },
      { ...good, seq: 1.5 },
      { ...good, path: ["X"] },
      { ...good, path: ["A", "A"] },
      { ...good, origin: "" },
      null,
    ];
    const result = b.receive("A", { entries: [...bad, good], withdrawn: [7], deleted: [{ key: 1 }] });
    assert.deepEqual(result, { accepted: 1, rejected: bad.length + 2, refused: 0 });
    assert.deepEqual(net.view("B"), [entry(1, 1).key]);
    net.clock.tick(2_000);
    assert.deepEqual(net.view("B"), [], "a TTL of 1e12 ms was capped at maxTtlMs");
    fc.assert(
      fc.property(fc.anything(), fc.array(fc.anything(), { maxLength: 5 }), (junk, items) => {
        b.receive("A", junk);
        b.receive("A", { entries: items, deleted: items, withdrawn: items, full: junk });
      }),
      { numRuns: 300 },
    );
  });

  it("holds at most maxEntries learned entries, refusing and reporting the rest", T, () => {
    const net = new Net();
    net.add("A");
    const b = net.add("B", null, { maxEntries: 3 });
    net.link("A", "B");
    for (let i = 0; i < 5; i++) net.node("A").register(entry(1, i), 10_000);
    net.settle();
    assert.equal(b.size, 3);
    assert.equal(net.totals.refused, 2);
    b.register(entry(2, 1), 10_000);
    assert.equal(b.size, 4, "own entries are always accepted");
  });

  it("caps path length and update size", T, () => {
    const clock = { now: () => 0 };
    const b = new Replica("B", { clock, maxPathLength: 3, maxEntries: 2, maxTombstones: 1 });
    b.peerUp({ key: "A", vnets: null, scope: "machine" });
    const item = (id: number, path: string[]): unknown => ({ entry: entry(1, id).toJSON(), origin: path[0], seq: 1, ttlMs: 100, path });
    assert.deepEqual(b.receive("A", { entries: [item(1, ["X", "Y", "Z", "A"])] }), { accepted: 0, rejected: 1, refused: 0 });
    const many = Array.from({ length: 5 }, (_, i) => item(i, ["A"]));
    assert.deepEqual(b.receive("A", { entries: many }), { accepted: 2, rejected: 2, refused: 1 });
  });

  it("an offer whose path already contains the receiver withdraws the sender's route instead of looping", T, () => {
    const clock = { now: () => 0 };
    const c = new Replica("C", { clock });
    c.peerUp({ key: "B", vnets: null, scope: "machine" });
    c.peerUp({ key: "D", vnets: null, scope: "machine" });
    const item = (path: string[]): unknown => ({ entry: entry(1, 1).toJSON(), origin: "A", seq: 1, ttlMs: 100, path });
    c.receive("B", { entries: [item(["A", "B"])] });
    c.receive("D", { entries: [item(["A", "D"])] });
    assert.equal(c.size, 1);
    c.receive("D", { entries: [item(["A", "B", "C", "D"])] });
    c.receive("B", { entries: [item(["A", "D", "C", "B"])] });
    assert.equal(c.size, 0, "neither route stands once both peers' paths go through C");
  });

  it("updates are plain data that survive MessagePack in a Msg", T, () => {
    const net = topology(["A-B"]);
    net.node("A").register(entry(1, 1, "svc", ["a", "local"], { ccy: "USD" }), 10_000);
    const out = net.node("A").drain();
    assert.equal(out.length, 1);
    const msg = decodeMsg(encodeMsg(new Msg(new Address(1, 2, 1), "REPLICA_UPDATE", out[0]!.update)));
    assert.deepEqual(net.node("B").receive("A", msg.contents), { accepted: 1, rejected: 0, refused: 0 });
    assert.deepEqual(net.node("B").query({ service: "svc", params: { ccy: "USD" }, vnet: "a" }).length, 1);
  });
});
