// Replication as a whole, on random topologies: whatever happens on the way
// (registrations, unregistrations, links going down and up, restarts, time
// passing, updates delivered late, out of turn across links, or lost), once
// every directory has run anti-entropy and the network is quiet, each
// directory sees exactly the live own entries of the origins it can reach
// (through peers serving the entries' vnets); and once the origins stop
// renewing, every view empties within the TTL, whatever the relays keep
// sending each other.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Entry } from "../../src/router/entry.js";
import { Net, entry, type Scope } from "./replica-net.js";

const MAX_TTL = 1_000;
/** Vnets a directory may serve. */
const SERVED: (string[] | null)[] = [null, ["a"], ["b"], ["a", "b"], ["local"], ["local", "a"]];
/** Vnets an entry may be in. */
const ENTRY_VNETS: (string[] | null)[] = [null, ["a"], ["b"], ["a", "b"], ["local"]];

type Op =
  | { k: "reg"; node: number; svc: number; vn: number; ttl: number }
  | { k: "unreg"; node: number; svc: number }
  | { k: "down" | "up"; edge: number }
  | { k: "restart" | "expire" | "ae"; node: number }
  | { k: "tick"; ms: number }
  | { k: "deliver"; link: number; count: number }
  | { k: "drop"; link: number };

function opArb(n: number): fc.Arbitrary<Op> {
  const node = fc.nat(n - 1);
  const svc = fc.nat(2);
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant("reg" as const), node, svc, vn: fc.nat(ENTRY_VNETS.length - 1), ttl: fc.integer({ min: 50, max: 1_500 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("unreg" as const), node, svc }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constantFrom("down" as const, "up" as const), edge: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constantFrom("restart" as const, "expire" as const, "ae" as const), node }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 400 }) }) },
    { weight: 5, arbitrary: fc.record({ k: fc.constant("deliver" as const), link: fc.nat(), count: fc.integer({ min: 1, max: 5 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("drop" as const), link: fc.nat() }) },
  );
}

const scenario = fc.integer({ min: 2, max: 6 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    parents: fc.array(fc.nat(), { minLength: n - 1, maxLength: n - 1 }),
    extra: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 5 }),
    network: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    served: fc.array(fc.nat(SERVED.length - 1), { minLength: n, maxLength: n }),
    ops: fc.array(opArb(n), { maxLength: 60 }),
  }),
);

/** Whether an entry in `vnets` may cross a link of `scope` to a directory serving `served` (the specification). */
function mayCross(vnets: readonly string[] | null, served: readonly string[] | null, scope: Scope): boolean {
  if (vnets === null) return true;
  const usable = scope === "network" ? vnets.filter((v) => v !== "local") : vnets;
  return usable.some((v) => served === null || served.includes(v));
}

describe("Replica: random networks", () => {
  it("views match the reachable live own entries at quiescence, and empty once renewals stop", { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const names = Array.from({ length: s.n }, (_, i) => `d${i}`);
        const served = new Map(names.map((name, i) => [name, SERVED[s.served[i]!] ?? null]));
        const net = new Net({ maxTtlMs: MAX_TTL });
        for (const name of names) net.add(name, served.get(name) ?? null);
        // A random spanning tree (connected), plus random extra links (cycles).
        const edges: [string, string, Scope][] = [];
        const addEdge = (a: number, b: number): void => {
          if (a === b || edges.some(([x, y]) => (x === names[a] && y === names[b]) || (x === names[b] && y === names[a]))) return;
          edges.push([names[a]!, names[b]!, s.network[edges.length % 12] ? "network" : "machine"]);
        };
        s.parents.forEach((p, i) => addEdge(i + 1, p % (i + 1)));
        for (const [a, b] of s.extra) addEdge(a, b);
        for (const [a, b, scope] of edges) net.link(a, b, scope);

        // What each origin has registered and not unregistered: key -> entry and expiry.
        const own = new Map(names.map((name) => [name, new Map<string, { entry: Entry; expiry: number }>()]));
        const pickLink = (i: number): [string, string] | undefined => {
          const busy = net.busyLinks();
          return busy.length === 0 ? undefined : busy[i % busy.length];
        };
        for (const op of s.ops) {
          switch (op.k) {
            case "reg": {
              const name = names[op.node]!;
              const e = entry(op.node + 1, op.svc, "svc", ENTRY_VNETS[op.vn] ?? null);
              net.node(name).register(e, op.ttl);
              own.get(name)!.set(e.key, { entry: e, expiry: net.clock.now() + Math.min(op.ttl, MAX_TTL) });
              break;
            }
            case "unreg": {
              const name = names[op.node]!;
              const key = entry(op.node + 1, op.svc).key;
              const live = own.get(name)!.get(key);
              const removed = net.node(name).unregister(key);
              if (live && live.expiry > net.clock.now()) assert.equal(removed, true, `${name} unregisters ${key}`);
              own.get(name)!.delete(key);
              break;
            }
            case "down":
            case "up": {
              const edge = edges[op.edge % edges.length]!;
              if (op.k === "down") net.unlink(edge[0], edge[1]);
              else if (!net.linked(edge[0], edge[1])) net.link(edge[0], edge[1], edge[2]);
              break;
            }
            case "restart": {
              const name = names[op.node]!;
              net.restart(name);
              own.get(name)!.clear();
              // Its links come back up; the peers see only a new peerUp.
              for (const [a, b, scope] of edges) if ((a === name || b === name) && net.linked(a, b)) net.link(a, b, scope);
              break;
            }
            case "expire":
              net.node(names[op.node]!).expire();
              break;
            case "ae":
              net.node(names[op.node]!).antiEntropy();
              break;
            case "tick":
              net.clock.tick(op.ms);
              break;
            case "deliver": {
              net.pump();
              const link = pickLink(op.link);
              for (let i = 0; link && i < op.count; i++) net.deliverOne(link[0], link[1]);
              break;
            }
            case "drop": {
              const link = pickLink(op.link);
              if (link) net.dropOne(link[0], link[1]);
              break;
            }
          }
        }

        net.expireAll();
        net.antiEntropyAll();
        net.settle(200);
        const now = net.clock.now();
        for (const viewer of names) {
          const expected: string[] = [];
          for (const origin of names) {
            for (const [key, { entry: e, expiry }] of own.get(origin)!) {
              if (expiry > now && reachable(origin, viewer, e.vnets)) expected.push(key);
            }
          }
          assert.deepEqual(net.view(viewer), expected.sort(), `view of ${viewer}`);
        }

        // The origins stop renewing; relays keep exchanging snapshots, each
        // update taking a tenth of the TTL in transit.
        const step = MAX_TTL / 10;
        for (let round = 0; round < 20; round++) {
          net.antiEntropyAll();
          net.pump();
          net.clock.tick(step);
          net.deliverAll();
          net.expireAll();
        }
        for (const name of names) assert.deepEqual(net.view(name), [], `view of ${name} after the TTL`);
        net.settle(200);
        for (const name of names) assert.equal(net.node(name).size, 0, `size of ${name} after the TTL`);

        function reachable(from: string, to: string, vnets: readonly string[] | null): boolean {
          const seen = new Set([from]);
          const todo = [from];
          for (let at = todo.pop(); at !== undefined; at = todo.pop()) {
            for (const [a, b, scope] of edges) {
              if (!net.linked(a, b) || (a !== at && b !== at)) continue;
              const next = a === at ? b : a;
              if (seen.has(next) || !mayCross(vnets, served.get(next) ?? null, scope)) continue;
              seen.add(next);
              todo.push(next);
            }
          }
          return seen.has(to);
        }
      }),
      { numRuns: 300 },
    );
  });
});
