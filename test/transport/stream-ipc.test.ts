// ipc listeners and dialers (paths, abstract names, stale files), and inproc refusal.
import { strict as assert } from "node:assert";
import { existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe } from "node:test";
import { NotSupportedError, TransportError } from "../../src/errors.js";
import { parseEndpoint } from "../../src/transport/endpoint.js";
import { dial, listen } from "../../src/transport/stream.js";
import {
  it,
  unique,
  ipcPath,
  abstractName,
  files,
  bind,
  connect,
  closedByPeer,
  exchange,
  connectPair,
  rejectsWith,
  makeStaleSocketFile,
} from "./stream-support.js";

describe("ipc", () => {
  it("binds a path, exchanges bytes, and removes the file on close", async () => {
    const path = ipcPath();
    files.push(path);
    const { listener, acceptor } = await bind(`ipc://${path}`);
    assert.equal(listener.endpoint, `ipc://${path}`);
    assert.ok(lstatSync(path).isSocket());
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
    await exchange(dialled, accepted);
    await listener.close();
    assert.equal(existsSync(path), false, "socket file removed on close");
    await listener.close();
    // The accepted stream outlives the listener.
    await exchange(accepted, dialled);
  });

  it("binds a relative path", async () => {
    const name = `sb-rel-${unique()}.sock`;
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const { listener, acceptor } = await bind(`ipc://${name}`);
      assert.equal(listener.endpoint, `ipc://${name}`);
      assert.ok(existsSync(join(tmpdir(), name)));
      const [dialled, accepted] = await connectPair(`ipc://${name}`, acceptor);
      await exchange(dialled, accepted);
      await listener.close();
      assert.equal(existsSync(join(tmpdir(), name)), false);
    } finally {
      process.chdir(cwd);
    }
  });

  it("binds an abstract name, refuses a second bind, and leaves no file", async () => {
    const name = abstractName();
    const { listener, acceptor } = await bind(`ipc://@${name}`);
    assert.equal(listener.endpoint, `ipc://@${name}`);
    assert.equal(existsSync(name), false);
    const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
    await exchange(dialled, accepted);
    await rejectsWith(listen(parseEndpoint(`ipc://@${name}`, "bind"), () => {}), "EADDRINUSE");
    await listener.close();
    await listener.close();
    await rejectsWith(dial(parseEndpoint(`ipc://@${name}`, "connect")), "ECONNREFUSED");
    // The name is free again.
    const again = await bind(`ipc://@${name}`);
    await again.listener.close();
  });

  it("replaces a stale socket file that nothing answers on", async () => {
    const path = ipcPath();
    files.push(path, `${path}.orig`);
    await makeStaleSocketFile(path);
    assert.ok(lstatSync(path).isSocket(), "a stale socket file is there");
    await rejectsWith(dial(parseEndpoint(`ipc://${path}`, "connect")), "ECONNREFUSED");
    const { listener, acceptor } = await bind(`ipc://${path}`);
    const [dialled, accepted] = await connectPair(`ipc://${path}`, acceptor);
    await exchange(dialled, accepted);
    await listener.close();
    assert.equal(existsSync(path), false);
  });

  it("refuses to take over a path a live listener answers on", async () => {
    const path = ipcPath();
    files.push(path);
    const { listener, acceptor } = await bind(`ipc://${path}`);
    const error = await rejectsWith(listen(parseEndpoint(`ipc://${path}`, "bind"), () => {}), "EADDRINUSE");
    assert.equal(error.address, `ipc://${path}`);
    // The probe was a connection to the live listener, closed straight away.
    await closedByPeer(await acceptor.next());
    // The first listener's file is still there and still serving.
    assert.ok(lstatSync(path).isSocket());
    const [dialled, accepted] = await connectPair(`ipc://${path}`, acceptor);
    await exchange(dialled, accepted);
    await listener.close();
  });

  it("never removes a file that is not a socket", async () => {
    const path = ipcPath();
    files.push(path);
    writeFileSync(path, "precious");
    await rejectsWith(listen(parseEndpoint(`ipc://${path}`, "bind"), () => {}), "EADDRINUSE");
    assert.equal(readFileSync(path, "utf8"), "precious");
  });

  it("binds ipc://* to a unique temporary path", async () => {
    const a = await bind("ipc://*");
    const b = await bind("ipc://*");
    assert.notEqual(a.listener.endpoint, b.listener.endpoint);
    for (const { listener, acceptor } of [a, b]) {
      assert.match(listener.endpoint, /^ipc:\/\/\//);
      const path = listener.endpoint.slice("ipc://".length);
      assert.equal(dirname(path), tmpdir());
      assert.ok(lstatSync(path).isSocket());
      const [dialled, accepted] = await connectPair(listener.endpoint, acceptor);
      await exchange(dialled, accepted);
      await listener.close();
      assert.equal(existsSync(path), false);
    }
  });

  it("rejects a dial to a missing path with ENOENT", async () => {
    const path = ipcPath();
    const error = await rejectsWith(dial(parseEndpoint(`ipc://${path}`, "connect")), "ENOENT");
    assert.equal(error.address, `ipc://${path}`);
  });

  it("rejects a bind in a missing directory with the OS's code", async () => {
    const path = join(tmpdir(), `sb-missing-${unique()}`, "x.sock");
    const error = await listen(parseEndpoint(`ipc://${path}`, "bind"), () => {}).then(
      () => assert.fail("expected a rejection"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TransportError);
    // Linux says ENOENT; gVisor (this project's sandbox) says EACCES.
    assert.ok(["ENOENT", "EACCES"].includes(error.code), `code ${error.code}`);
    assert.equal(error.address, `ipc://${path}`);
  });
});

// ---------------------------------------------------------------- error codes

describe("inproc", () => {
  it("is not handled here: listen and dial reject with ENOTSUP", async () => {
    const ep = parseEndpoint("inproc://queue", "bind");
    await rejectsWith(listen(ep, () => {}), "ENOTSUP", NotSupportedError);
    await rejectsWith(dial(ep), "ENOTSUP", NotSupportedError);
  });
});
