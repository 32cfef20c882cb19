// The smart Socket against a hand-driven aiomsg v1 peer: the HELLO
// exchange, pipelined frames, skipped unknown types, refused identities, and
// bad input that closes one connection and nothing else.
import assert from "node:assert/strict";
import diagnostics_channel from "node:diagnostics_channel";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ProtocolError, SmartSocket } from "../../src/index.js";
import { TYPE_DATA, TYPE_HELLO, encodeData, encodeFrame, encodeHeartbeat, encodeHello } from "../../src/smart/index.js";
import { RawPeer, id } from "./raw-peer.js";
import { nextEvent, smartScope } from "./scope.js";

const hex = (s: string): Buffer => Buffer.from(s.replaceAll(" ", ""), "hex");

/** Collects the messages published on a diagnostics channel until `stop()`. */
function listen(name: string): { seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const fn = (message: unknown): void => void seen.push(message);
  diagnostics_channel.subscribe(name, fn);
  return { seen, stop: () => diagnostics_channel.unsubscribe(name, fn) };
}

describe("smart Socket wire protocol", () => {
  const track = smartScope();

  async function boundSocket(options: ConstructorParameters<typeof SmartSocket>[0] = {}): Promise<[InstanceType<typeof SmartSocket>, string]> {
    const sock = track(new SmartSocket(options));
    return [sock, await sock.bind("tcp://127.0.0.1:0")];
  }

  it("sends its HELLO at once, byte for byte, without waiting for the peer's", { timeout: 10_000 }, async () => {
    const [sock, endpoint] = await boundSocket({ identity: "22222222222222222222222222222222" });
    const raw = track(await RawPeer.connect(endpoint));
    const hello = await raw.next();
    assert.equal(hello.type, TYPE_HELLO);
    assert.deepEqual(hello.body, hex("01 22222222222222222222222222222222"));
    assert.equal(sock.peerCount, 0, "no peer until its HELLO arrives");
  });

  it("handles HELLO and DATA pipelined in one write", { timeout: 10_000 }, async () => {
    const [sock, endpoint] = await boundSocket();
    const connected = nextEvent(sock, "connect");
    const raw = track(await RawPeer.connect(endpoint));
    raw.write(encodeHello(id(0x11)), encodeData(Buffer.from("one")), encodeData(Buffer.from("two")));
    const [info] = await connected;
    assert.deepEqual(info.identity, id(0x11));
    assert.equal(info.role, "bind");
    const [from, data] = await sock.recvIdentity();
    assert.deepEqual(from, id(0x11));
    assert.equal(data.toString(), "one");
    assert.equal(await sock.recvString(), "two");
  });

  it("handles the captured vectors sent one byte per write", { timeout: 10_000 }, async () => {
    const [sock, endpoint] = await boundSocket();
    const raw = track(await RawPeer.connect(endpoint));
    const bytes = Buffer.concat([hex("00000012 01 01 11111111111111111111111111111111"), hex("00000006 03 68656c6c6f"), hex("00000001 02")]);
    for (const byte of bytes) {
      raw.write(Buffer.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await sock.recvString(), "hello");
  });

  it("skips envelope types it does not know, before and after the HELLO", { timeout: 10_000 }, async () => {
    const [sock, endpoint] = await boundSocket();
    const raw = track(await RawPeer.connect(endpoint));
    raw.write(
      encodeFrame(0x09, Buffer.from("a newer peer's frame")),
      encodeHello(id(0x12)),
      encodeFrame(0xff),
      encodeFrame(0x06, Buffer.alloc(100)),
      encodeData(Buffer.from("still here")),
    );
    assert.equal(await sock.recvString(), "still here");
    assert.equal(raw.isClosed, false);
  });

  it("refuses a duplicate identity: the new connection is closed, the old one kept", { timeout: 10_000 }, async () => {
    const [sock, endpoint] = await boundSocket();
    const rejects = listen("switchboard:smart:reject");
    try {
      const first = track(await RawPeer.connect(endpoint));
      first.write(encodeHello(id(0x33)));
      await nextEvent(sock, "connect");
      const rejected = nextEvent(sock, "reject");
      const second = track(await RawPeer.connect(endpoint));
      second.write(encodeHello(id(0x33)), encodeData(Buffer.from("from the impostor")));
      const [info] = await rejected;
      assert.equal(info.error.code, "ERR_AIOMSG_DUPLICATE_IDENTITY");
      await second.closed;
      assert.equal(sock.peerCount, 1);
      first.write(encodeData(Buffer.from("from the original")));
      assert.equal(await sock.recvString(), "from the original");
      await sock.send("to the original");
      assert.equal((await first.next(TYPE_DATA)).body.toString(), "to the original");
      assert.equal(rejects.seen.length, 1);
      assert.equal((rejects.seen[0] as { identity: string }).identity, "33".repeat(16));
    } finally {
      rejects.stop();
    }
  });

  const bad: Array<[string, Buffer[], string]> = [
    ["DATA before HELLO", [encodeData(Buffer.from("too early"))], "ERR_AIOMSG_BAD_HELLO"],
    ["a HEARTBEAT before HELLO", [encodeHeartbeat()], "ERR_AIOMSG_BAD_HELLO"],
    ["a HELLO of version 2", [hex("00000012 01 02 22222222222222222222222222222222")], "ERR_AIOMSG_VERSION"],
    ["a short HELLO", [hex("00000003 01 01 22")], "ERR_AIOMSG_BAD_HELLO"],
    ["a second HELLO", [encodeHello(id(0x44)), encodeHello(id(0x44))], "ERR_AIOMSG_BAD_HELLO"],
    ["a zero-length frame", [encodeHello(id(0x45)), hex("00000000")], "ERR_AIOMSG_MALFORMED"],
    ["a truncated ACK", [encodeHello(id(0x46)), hex("00000002 05 01")], "ERR_AIOMSG_MALFORMED"],
    ["a frame above maxFrameSize", [encodeHello(id(0x47)), encodeData(Buffer.alloc(2000))], "ERR_AIOMSG_FRAME_TOO_LARGE"],
  ];
  for (const [what, frames, code] of bad) {
    it(`closes a connection that sends ${what} (${code}), and only that one`, { timeout: 10_000 }, async () => {
      const [sock, endpoint] = await boundSocket({ maxFrameSize: 1024 });
      const errors = listen("switchboard:smart:protocol-error");
      try {
        const good = track(await RawPeer.connect(endpoint));
        good.write(encodeHello(id(0x01)));
        await nextEvent(sock, "connect");
        const failed = nextEvent(sock, "protocol-error");
        const raw = track(await RawPeer.connect(endpoint));
        raw.write(...frames);
        const [event] = await failed;
        assert.ok(event.error instanceof ProtocolError);
        assert.equal(event.error.code, code);
        await raw.closed;
        assert.equal(errors.seen.length, 1);
        assert.equal((errors.seen[0] as { error: ProtocolError }).error.code, code);
        // The other connection is untouched.
        good.write(encodeData(Buffer.from("unaffected")));
        assert.equal(await sock.recvString(), "unaffected");
      } finally {
        errors.stop();
      }
    });
  }

  it("reports a clean EOF as a disconnect without error, an EOF inside a frame with ECONNRESET", { timeout: 10_000 }, async () => {
    const [sock, endpoint] = await boundSocket();
    const clean = track(await RawPeer.connect(endpoint));
    clean.write(encodeHello(id(0x51)));
    await nextEvent(sock, "connect");
    const cleanGone = nextEvent(sock, "disconnect");
    clean.socket.end();
    const [cleanInfo] = await cleanGone;
    assert.equal(cleanInfo.error, undefined);

    const cut = track(await RawPeer.connect(endpoint));
    cut.write(encodeHello(id(0x52)));
    await nextEvent(sock, "connect");
    const cutGone = nextEvent(sock, "disconnect");
    cut.socket.end(hex("00000010 03 6869"));
    const [cutInfo] = await cutGone;
    assert.equal(cutInfo.error?.code, "ECONNRESET");
  });

  it("random bytes from many peers never disturb the socket or its good connection", { timeout: 60_000 }, async () => {
    const [sock, endpoint] = await boundSocket({ maxFrameSize: 4096 });
    const good = track(await RawPeer.connect(endpoint));
    good.write(encodeHello(id(0x70)));
    await nextEvent(sock, "connect");
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 5 }), async (greet, chunks) => {
        const raw = await RawPeer.connect(endpoint);
        try {
          // Half the peers first say a valid HELLO (a fresh identity), so bytes after it are parsed as frames too.
          if (greet) raw.write(encodeHello(Buffer.alloc(16, 0x80 + (round++ % 100))));
          for (const chunk of chunks) raw.write(Buffer.from(chunk));
        } finally {
          raw.socket.end();
          await raw.closed;
        }
        good.write(encodeData(Buffer.from(`still fine ${round}`)));
        // Messages that a random peer managed to send may come first.
        for (;;) {
          const [from, data] = await sock.recvIdentity();
          if (from.equals(id(0x70))) {
            assert.equal(data.toString(), `still fine ${round}`);
            break;
          }
        }
      }),
      { numRuns: 60 },
    );
    assert.equal(sock.peerCount >= 1, true);
  });

  it("publishes connect and disconnect on the diagnostics channels", { timeout: 10_000 }, async () => {
    const [sock, endpoint] = await boundSocket();
    const connects = listen("switchboard:smart:connect");
    const disconnects = listen("switchboard:smart:disconnect");
    try {
      const raw = track(await RawPeer.connect(endpoint));
      raw.write(encodeHello(id(0x61)));
      await nextEvent(sock, "connect");
      const gone = nextEvent(sock, "disconnect");
      raw.destroy();
      await gone;
      assert.deepEqual(connects.seen, [{ address: endpoint, role: "bind", identity: "61".repeat(16) }]);
      assert.equal((disconnects.seen[0] as { identity: string }).identity, "61".repeat(16));
    } finally {
      connects.stop();
      disconnects.stop();
    }
  });
});
