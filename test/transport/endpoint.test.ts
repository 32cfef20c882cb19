import { strict as assert } from "node:assert";
import { tmpdir } from "node:os";
import { dirname } from "node:path";
import { describe, it } from "node:test";

import { InvalidArgumentError, NotSupportedError, SwitchboardError } from "../../src/errors.js";
import { formatEndpoint, parseEndpoint, type Endpoint } from "../../src/transport/endpoint.js";

type Role = "bind" | "connect";

function assertCode(fn: () => unknown, code: "EINVAL" | "ENOTSUP", address: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SwitchboardError, `expected a SwitchboardError, got ${String(error)}`);
    assert.equal(error.code, code, `code for ${JSON.stringify(address)}`);
    if (code === "EINVAL") assert.ok(error instanceof InvalidArgumentError);
    if (code === "ENOTSUP") assert.ok(error instanceof NotSupportedError);
    return true;
  });
}

function ok(address: string, role: Role, expected: Endpoint): void {
  assert.deepEqual(parseEndpoint(address, role), expected, `${role} ${address}`);
}

function bad(address: string, role: Role, code: "EINVAL" | "ENOTSUP" = "EINVAL"): void {
  assertCode(() => parseEndpoint(address, role), code, address);
}

describe("parseEndpoint: tcp", () => {
  it("parses IPv4 hosts on both roles", () => {
    for (const role of ["bind", "connect"] as const) {
      ok("tcp://127.0.0.1:5555", role, { transport: "tcp", host: "127.0.0.1", port: 5555 });
      ok("tcp://0.0.0.0:1", role, { transport: "tcp", host: "0.0.0.0", port: 1 });
      ok("tcp://10.1.2.3:65535", role, { transport: "tcp", host: "10.1.2.3", port: 65535 });
    }
  });

  it("parses DNS and interface names", () => {
    ok("tcp://localhost:80", "connect", { transport: "tcp", host: "localhost", port: 80 });
    ok("tcp://server1.example.com:5555", "connect", { transport: "tcp", host: "server1.example.com", port: 5555 });
    ok("tcp://my-host_01:5555", "connect", { transport: "tcp", host: "my-host_01", port: 5555 });
    ok("tcp://example.com.:5555", "connect", { transport: "tcp", host: "example.com.", port: 5555 });
    ok("tcp://eth0:5555", "bind", { transport: "tcp", host: "eth0", port: 5555 });
    ok("tcp://localhost:0", "bind", { transport: "tcp", host: "localhost", port: 0 });
    const longest = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`; // 253 chars
    ok(`tcp://${longest}:1`, "connect", { transport: "tcp", host: longest, port: 1 });
  });

  it("parses bracketed IPv6 literals, with or without a zone", () => {
    for (const role of ["bind", "connect"] as const) {
      ok("tcp://[::1]:5555", role, { transport: "tcp", host: "::1", port: 5555 });
      ok("tcp://[fe80::1%eth0]:5555", role, { transport: "tcp", host: "fe80::1%eth0", port: 5555 });
      ok("tcp://[2001:db8::ff00:42:8329]:1", role, { transport: "tcp", host: "2001:db8::ff00:42:8329", port: 1 });
      ok("tcp://[::ffff:127.0.0.1]:7", role, { transport: "tcp", host: "::ffff:127.0.0.1", port: 7 });
    }
    ok("tcp://[::]:0", "bind", { transport: "tcp", host: "::", port: 0 });
  });

  it("accepts an unbracketed IPv6 literal as libzmq does (the last ':' leads the port)", () => {
    ok("tcp://::1:5555", "connect", { transport: "tcp", host: "::1", port: 5555 });
    ok("tcp://fe80::1:80", "bind", { transport: "tcp", host: "fe80::1", port: 80 });
  });

  it("binds '*' as all interfaces and '*' or '0' as an ephemeral port", () => {
    ok("tcp://*:5555", "bind", { transport: "tcp", host: "*", port: 5555 });
    ok("tcp://*:*", "bind", { transport: "tcp", host: "*", port: 0 });
    ok("tcp://*:0", "bind", { transport: "tcp", host: "*", port: 0 });
    ok("tcp://127.0.0.1:*", "bind", { transport: "tcp", host: "127.0.0.1", port: 0 });
    ok("tcp://[::1]:*", "bind", { transport: "tcp", host: "::1", port: 0 });
  });

  it("accepts ports with leading zeros (strtoul-like) and rejects out-of-range or non-numeric ports", () => {
    ok("tcp://127.0.0.1:05555", "connect", { transport: "tcp", host: "127.0.0.1", port: 5555 });
    for (const role of ["bind", "connect"] as const) {
      bad("tcp://127.0.0.1:65536", role);
      bad("tcp://127.0.0.1:99999", role);
      bad("tcp://127.0.0.1:123456", role);
      bad("tcp://127.0.0.1:-1", role);
      bad("tcp://127.0.0.1:+80", role);
      bad("tcp://127.0.0.1:1.5", role);
      bad("tcp://127.0.0.1:0x50", role);
      bad("tcp://127.0.0.1:http", role);
      bad("tcp://127.0.0.1: 80", role);
      bad("tcp://127.0.0.1:80 ", role);
      bad("tcp://127.0.0.1:", role);
      bad("tcp://127.0.0.1", role);
      bad("tcp://127.0.0.1:**", role);
      bad("tcp://127.0.0.1:5555/resource", role);
    }
  });

  it("rejects connecting to port 0 or '*' and to host '*'", () => {
    bad("tcp://127.0.0.1:0", "connect");
    bad("tcp://127.0.0.1:*", "connect");
    bad("tcp://[::1]:0", "connect");
    bad("tcp://*:5555", "connect");
    bad("tcp://*:*", "connect");
  });

  it("rejects malformed hosts", () => {
    for (const role of ["bind", "connect"] as const) {
      bad("tcp://:5555", role);
      bad("tcp://", role);
      bad("tcp://[::1:5555", role); // unterminated bracket
      bad("tcp://[::1]5555", role); // no ':' after ']'
      bad("tcp://[::1]", role);
      bad("tcp://[]:5555", role);
      bad("tcp://[127.0.0.1]:5555", role); // brackets are for IPv6 only
      bad("tcp://[not-ipv6]:5555", role);
      bad("tcp://256.1.1.1:5555", role);
      bad("tcp://1.2.3:5555", role);
      bad("tcp://host name:5555", role);
      bad("tcp://-host:5555", role);
      bad("tcp://host-:5555", role);
      bad("tcp://a..b:5555", role);
      bad("tcp://.host:5555", role);
      bad("tcp://user@host:5555", role);
      bad("tcp://hôst:5555", role);
      bad(`tcp://${"a".repeat(64)}:5555`, role); // label over 63
      bad(`tcp://${"a.".repeat(127)}ab:5555`, role); // 256 chars
      bad("tcp://**:5555", role);
    }
  });

  it("parses a source address on connect, and only there", () => {
    ok("tcp://192.168.1.17:5555;192.168.1.1:5555", "connect", {
      transport: "tcp",
      host: "192.168.1.1",
      port: 5555,
      source: { host: "192.168.1.17", port: 5555 },
    });
    ok("tcp://eth1:0;server1:5555", "connect", {
      transport: "tcp",
      host: "server1",
      port: 5555,
      source: { host: "eth1", port: 0 },
    });
    ok("tcp://*:*;[::1]:7", "connect", { transport: "tcp", host: "::1", port: 7, source: { host: "*", port: 0 } });
    ok("tcp://[::1]:4000;[::1]:7", "connect", {
      transport: "tcp",
      host: "::1",
      port: 7,
      source: { host: "::1", port: 4000 },
    });
    bad("tcp://127.0.0.1:0;127.0.0.1:5555", "bind");
    bad("tcp://127.0.0.1;127.0.0.1:5555", "connect"); // source needs a port
    bad("tcp://127.0.0.1:0;127.0.0.1:0", "connect"); // destination port 0
    bad("tcp://127.0.0.1:0;*:5555", "connect"); // destination host '*'
    bad("tcp://;127.0.0.1:5555", "connect");
    bad("tcp://127.0.0.1:0;", "connect");
    bad("tcp://127.0.0.1:70000;127.0.0.1:5555", "connect");
  });
});

describe("parseEndpoint: ipc", () => {
  it("parses absolute and relative paths on both roles", () => {
    for (const role of ["bind", "connect"] as const) {
      ok("ipc:///tmp/feed.sock", role, { transport: "ipc", path: "/tmp/feed.sock", abstract: false });
      ok("ipc://rel/path.sock", role, { transport: "ipc", path: "rel/path.sock", abstract: false });
      ok("ipc://name", role, { transport: "ipc", path: "name", abstract: false });
      ok("ipc://./x y.sock", role, { transport: "ipc", path: "./x y.sock", abstract: false });
    }
  });

  it("parses abstract names, without the '@'", () => {
    for (const role of ["bind", "connect"] as const) {
      ok("ipc://@switchboard", role, { transport: "ipc", path: "switchboard", abstract: true });
      ok("ipc://@a/b@c", role, { transport: "ipc", path: "a/b@c", abstract: true });
    }
  });

  it("enforces Linux's 107-byte limit, counting bytes not characters", () => {
    const max = `/${"p".repeat(106)}`;
    ok(`ipc://${max}`, "bind", { transport: "ipc", path: max, abstract: false });
    bad(`ipc://${max}x`, "bind");
    bad(`ipc://${max}x`, "connect");
    ok(`ipc://@${"n".repeat(107)}`, "connect", { transport: "ipc", path: "n".repeat(107), abstract: true });
    bad(`ipc://@${"n".repeat(108)}`, "connect");
    // 54 two-byte characters = 108 bytes although only 54 characters.
    bad(`ipc:///${"é".repeat(53)}x`, "bind");
    const fits = `/${"é".repeat(53)}`; // 107 bytes
    ok(`ipc://${fits}`, "bind", { transport: "ipc", path: fits, abstract: false });
  });

  it("rejects empty paths, empty abstract names and NUL characters", () => {
    for (const role of ["bind", "connect"] as const) {
      bad("ipc://", role);
      bad("ipc://@", role);
      bad("ipc:///tmp/a\0b", role);
      bad("ipc://@a\0b", role);
    }
  });

  it("turns ipc://* on bind into a unique path under os.tmpdir(), and refuses it on connect", () => {
    const a = parseEndpoint("ipc://*", "bind");
    const b = parseEndpoint("ipc://*", "bind");
    assert.equal(a.transport, "ipc");
    assert.equal(b.transport, "ipc");
    if (a.transport !== "ipc" || b.transport !== "ipc") return;
    assert.equal(a.abstract, false);
    assert.notEqual(a.path, b.path);
    assert.equal(dirname(a.path), tmpdir());
    assert.ok(Buffer.byteLength(a.path) <= 107);
    bad("ipc://*", "connect");
  });
});

describe("parseEndpoint: inproc", () => {
  it("accepts names of 1 to 256 characters, of any characters", () => {
    for (const role of ["bind", "connect"] as const) {
      ok("inproc://a", role, { transport: "inproc", name: "a" });
      ok("inproc://my-queue/with:odd;chars*", role, { transport: "inproc", name: "my-queue/with:odd;chars*" });
      ok(`inproc://${"x".repeat(256)}`, role, { transport: "inproc", name: "x".repeat(256) });
      ok("inproc://*", role, { transport: "inproc", name: "*" });
    }
  });

  it("rejects an empty name and a name over 256 characters", () => {
    bad("inproc://", "bind");
    bad("inproc://", "connect");
    bad(`inproc://${"x".repeat(257)}`, "bind");
    bad(`inproc://${"x".repeat(257)}`, "connect");
  });
});

describe("parseEndpoint: schemes", () => {
  it("rejects unknown and unimplemented transports with ENOTSUP", () => {
    for (const address of [
      "pgm://eth0;239.192.1.1:5555",
      "epgm://eth0;239.192.1.1:5555",
      "ws://127.0.0.1:8080/path",
      "wss://example.com:443/path",
      "tipc://{5560,0,0}",
      "vmci://1:5555",
      "udp://127.0.0.1:5555",
      "norm://1,127.0.0.1:5555",
      "foo://bar",
      "TCP://127.0.0.1:5555", // the scheme is case-sensitive, as in libzmq
      "Ipc:///tmp/x",
    ]) {
      bad(address, "connect", "ENOTSUP");
      bad(address, "bind", "ENOTSUP");
    }
  });

  it("rejects strings that are not endpoints with EINVAL", () => {
    for (const address of [
      "",
      "127.0.0.1:5555",
      "tcp:/127.0.0.1:5555",
      "tcp:127.0.0.1:5555",
      "://127.0.0.1:5555",
      "1tcp://127.0.0.1:5555",
      "t cp://x",
      " tcp://127.0.0.1:5555",
    ]) {
      bad(address, "connect");
      bad(address, "bind");
    }
  });

  it("rejects non-string addresses and unknown roles with EINVAL", () => {
    assertCode(() => parseEndpoint(undefined as unknown as string, "bind"), "EINVAL", "undefined");
    assertCode(() => parseEndpoint(5555 as unknown as string, "connect"), "EINVAL", "5555");
    assertCode(() => parseEndpoint("tcp://127.0.0.1:1", "listen" as unknown as Role), "EINVAL", "role");
  });

  it("sets the offending address on the error", () => {
    try {
      parseEndpoint("tcp://127.0.0.1:99999", "connect");
      assert.fail("expected a throw");
    } catch (error) {
      assert.ok(error instanceof SwitchboardError);
      assert.equal(error.address, "tcp://127.0.0.1:99999");
    }
  });
});

describe("formatEndpoint", () => {
  it("formats each transport", () => {
    assert.equal(formatEndpoint({ transport: "tcp", host: "127.0.0.1", port: 5555 }), "tcp://127.0.0.1:5555");
    assert.equal(formatEndpoint({ transport: "tcp", host: "::1", port: 5555 }), "tcp://[::1]:5555");
    assert.equal(formatEndpoint({ transport: "tcp", host: "*", port: 0 }), "tcp://*:0");
    assert.equal(formatEndpoint({ transport: "tcp", host: "localhost", port: 1 }), "tcp://localhost:1");
    assert.equal(
      formatEndpoint({ transport: "tcp", host: "server1", port: 5555, source: { host: "fe80::1%eth0", port: 0 } }),
      "tcp://[fe80::1%eth0]:0;server1:5555",
    );
    assert.equal(formatEndpoint({ transport: "ipc", path: "/tmp/a.sock", abstract: false }), "ipc:///tmp/a.sock");
    assert.equal(formatEndpoint({ transport: "ipc", path: "rel/a.sock", abstract: false }), "ipc://rel/a.sock");
    assert.equal(formatEndpoint({ transport: "ipc", path: "name", abstract: true }), "ipc://@name");
    assert.equal(formatEndpoint({ transport: "inproc", name: "q" }), "inproc://q");
  });

  it("round-trips through parseEndpoint", () => {
    const cases: Array<[string, Role]> = [
      ["tcp://127.0.0.1:5555", "connect"],
      ["tcp://[::1]:5555", "connect"],
      ["tcp://[fe80::1%eth0]:80", "bind"],
      ["tcp://*:0", "bind"],
      ["tcp://example.com:443", "connect"],
      ["tcp://192.168.1.17:5555;192.168.1.1:5555", "connect"],
      ["tcp://*:0;[::1]:9", "connect"],
      ["ipc:///tmp/x.sock", "bind"],
      ["ipc://rel/x.sock", "connect"],
      ["ipc://@abstract-name", "bind"],
      ["inproc://some name", "connect"],
    ];
    for (const [address, role] of cases) {
      const ep = parseEndpoint(address, role);
      assert.equal(formatEndpoint(ep), address);
      assert.deepEqual(parseEndpoint(formatEndpoint(ep), role), ep);
    }
    // Non-canonical spellings normalise.
    assert.equal(formatEndpoint(parseEndpoint("tcp://*:*", "bind")), "tcp://*:0");
    assert.equal(formatEndpoint(parseEndpoint("tcp://::1:80", "connect")), "tcp://[::1]:80");
    assert.equal(formatEndpoint(parseEndpoint("tcp://h:080", "connect")), "tcp://h:80");
    // ipc://* formats as the generated path, which parses back to itself.
    const temp = parseEndpoint("ipc://*", "bind");
    assert.deepEqual(parseEndpoint(formatEndpoint(temp), "connect"), temp);
  });
});
