// Transports and endpoints for the socket contract suite: every behaviour
// test runs once per transport, each on an endpoint no other test uses.
import { once } from "node:events";
import { rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type Transport = "tcp" | "ipc" | "inproc";

export const TRANSPORTS: readonly Transport[] = ["tcp", "ipc", "inproc"];

/**
 * Runs `body` once per transport. `body` declares the tests, usually inside
 * its own `describe`, so a failure names the transport it happened on.
 */
export function forEachTransport(body: (transport: Transport) => void): void {
  for (const transport of TRANSPORTS) body(transport);
}

let counter = 0;
const ipcPaths = new Set<string>();

// A test that fails half-way may never unbind; its socket file must not
// outlive the run.
process.once("exit", () => {
  for (const path of ipcPaths) rmSync(path, { force: true });
});

/**
 * An endpoint to bind that no other test in this process uses: tcp asks for
 * an ephemeral loopback port (read the real one from `lastEndpoint`), ipc a
 * fresh socket file, inproc a fresh name.
 */
export function uniqueEndpoint(transport: Transport): string {
  const id = `${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  switch (transport) {
    case "tcp":
      return "tcp://127.0.0.1:0";
    case "ipc": {
      const path = join(tmpdir(), `sb-socket-${id}.sock`);
      ipcPaths.add(path);
      return `ipc://${path}`;
    }
    case "inproc":
      return `inproc://sb-socket-${id}`;
  }
}

interface Bindable {
  bind(address: string): Promise<void>;
  readonly lastEndpoint: string | null;
}

/** Binds `socket` to a unique endpoint and returns the address peers connect to. */
export async function bindUnique(socket: Bindable, transport: Transport): Promise<string> {
  await socket.bind(uniqueEndpoint(transport));
  const address = socket.lastEndpoint;
  if (address === null) throw new Error("bind did not set lastEndpoint");
  return address;
}

/**
 * A concrete endpoint that nothing is bound to yet, for tests that connect
 * first and bind later. For tcp it is a loopback port the kernel just handed
 * out and released (nothing else in this process asks for that port; another
 * process could, in theory, take it in between).
 */
export async function laterEndpoint(transport: Transport): Promise<string> {
  if (transport !== "tcp") return uniqueEndpoint(transport);
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `tcp://127.0.0.1:${address.port}`;
}
