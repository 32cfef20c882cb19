// The transport seam: the smart Socket runs on any node Duplex handed over
// by a BindTarget or ConnectTarget, and endpoint strings of a registered
// scheme reach them. Here the "network" is an in-memory Duplex pair.
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { describe, it } from "node:test";
import { NotSupportedError, SmartSocket, smart } from "../../src/index.js";
import { nextEvent, smartScope } from "./scope.js";

/** Two connected in-memory streams: what one writes, the other reads; ending or destroying one ends the other. */
function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex => new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      peer().push(chunk);
      callback();
    },
    final(callback) {
      peer().push(null);
      callback();
    },
  });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  a.once("close", () => b.destroy());
  b.once("close", () => a.destroy());
  return [a, b];
}

/** An in-memory transport: names instead of ports. */
const bound = new Map<string, (stream: Duplex) => void>();
let nextName = 0;

function memBind(name: string): smart.BindTarget {
  return {
    address: `mem://${name}`,
    async listen(accept) {
      bound.set(name, accept);
      return { endpoint: `mem://${name}`, close: async () => void bound.delete(name) };
    },
  };
}

function memConnect(name: string): smart.ConnectTarget {
  return {
    address: `mem://${name}`,
    async dial() {
      const accept = bound.get(name);
      if (accept === undefined) throw new Error(`nothing bound at mem://${name}`);
      const [client, server] = duplexPair();
      accept(server);
      return client;
    },
  };
}

smart.registerScheme("mem", {
  bind: (endpoint) => memBind(endpoint.slice("mem://".length)),
  connect: (endpoint) => memConnect(endpoint.slice("mem://".length)),
});

describe("smart Socket transport seam", () => {
  const track = smartScope();

  it("runs over any Duplex from BindTarget and ConnectTarget objects", { timeout: 10_000 }, async () => {
    const name = `objects-${nextName++}`;
    const server = track(new SmartSocket());
    assert.equal(await server.bind(memBind(name)), `mem://${name}`);
    const client = track(new SmartSocket({ delivery: "at-least-once" }));
    await client.connect(memConnect(name));
    // At-least-once: the send resolves on the ACK, which leaves once the server's application took the message.
    const sending = client.send("over memory, acknowledged");
    const [identity, data] = await server.recvIdentity();
    await sending;
    assert.deepEqual(identity, client.identity);
    assert.equal(data.toString(), "over memory, acknowledged");
    await server.send("and back", { identity });
    assert.equal(await client.recvString(), "and back");
  });

  it("reaches a registered scheme through endpoint strings, and reconnects over it", { timeout: 10_000 }, async () => {
    const name = `strings-${nextName++}`;
    const server = new SmartSocket();
    await server.bind(`mem://${name}`);
    const client = track(new SmartSocket({ reconnectDelay: () => 1 }));
    await client.connect(`mem://${name}`);
    await client.send("first");
    assert.equal(await server.recvString(), "first");
    const lost = nextEvent(client, "disconnect");
    await server.close();
    await lost;
    await client.send("kept across the reconnect");
    const again = track(new SmartSocket());
    await again.bind(`mem://${name}`);
    assert.equal(await again.recvString(), "kept across the reconnect");
  });

  it("refuses an endpoint whose scheme no transport registered with ENOTSUP", { timeout: 5_000 }, async () => {
    const sock = track(new SmartSocket());
    await assert.rejects(sock.bind("carrier-pigeon://roof"), NotSupportedError);
    await assert.rejects(sock.connect("carrier-pigeon://roof"), NotSupportedError);
  });
});
