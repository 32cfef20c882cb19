// Connections still in their ZMTP handshake belong to the endpoint they came
// from: unbind(), disconnect() and close() end them too, and a handshake
// that completes afterwards must not add a peer to the socket.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import { describe, it } from "node:test";
import { Dealer, Pull } from "../../src/index.js";
import { RawServer } from "../helpers/raw-zmtp.js";
import { nextEvent, socketScope } from "../helpers/sockets.js";

describe("handshaking connections are torn down with their endpoint", () => {
  const track = socketScope();

  it("unbind() closes a connection that has not finished its handshake", { timeout: 10_000 }, async () => {
    const pull = track(new Pull());
    await pull.bind("tcp://127.0.0.1:0");
    const address = pull.lastEndpoint!;
    const accepted = nextEvent(pull, "accept");
    const port = Number(address.slice(address.lastIndexOf(":") + 1));
    const raw = netConnect(port, "127.0.0.1");
    raw.on("error", () => {});
    raw.resume(); // read, so the client sees the server's end of the stream
    const closed = once(raw, "close");
    await accepted;
    // The raw client never sends a greeting: the connection is mid-handshake.
    await pull.unbind(address);
    await closed;
    assert.equal(pull.pipes.size, 0);
  });

  it("disconnect() closes a dialled connection that has not finished its handshake", { timeout: 10_000 }, async () => {
    const server = await RawServer.listen("ROUTER", { greet: false });
    try {
      const dealer = track(new Dealer());
      dealer.connect(server.endpoint);
      const connection = await server.accepted();
      dealer.disconnect(server.endpoint);
      await connection.closed;
      assert.equal(dealer.pipes.size, 0);
    } finally {
      server.close();
    }
  });

  it("close() closes a dialled connection that has not finished its handshake", { timeout: 10_000 }, async () => {
    const server = await RawServer.listen("ROUTER", { greet: false });
    try {
      const dealer = new Dealer();
      dealer.connect(server.endpoint);
      const connection = await server.accepted();
      dealer.close();
      await connection.closed;
    } finally {
      server.close();
    }
  });
});
