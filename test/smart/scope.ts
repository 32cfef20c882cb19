// Plumbing for the smart Socket tests: sockets closed after each test, and
// waiting for socket events.
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { afterEach, beforeEach } from "node:test";
import { SmartSocket, smart } from "../../src/index.js";

type Socket = InstanceType<typeof SmartSocket>;

/**
 * Returns `track`: sockets (and anything with close()) passed to it are
 * closed after each test of the calling suite, even one that failed half-way.
 */
export function smartScope(): <T extends { close(): unknown }>(item: T) => T {
  const open: Array<{ close(): unknown }> = [];
  // A test waiting on something that never comes must fail by its own
  // timeout rather than let the process end early.
  let keepAlive: NodeJS.Timeout | undefined;
  beforeEach(() => {
    keepAlive = setInterval(() => {}, 60_000);
  });
  afterEach(async () => {
    clearInterval(keepAlive);
    await Promise.all(open.splice(0).map(async (item) => {
      try {
        if (item instanceof SmartSocket) await item.close({ timeoutMs: 0 });
        else await item.close();
      } catch {
        // already closed
      }
    }));
  });
  return (item) => {
    open.push(item);
    return item;
  };
}

/** Resolves with the next `type` event of `sock` that `match` accepts. */
export function nextEvent<K extends keyof smart.SocketEvents>(
  sock: Socket,
  type: K,
  match: (...args: smart.SocketEvents[K]) => boolean = () => true,
): Promise<smart.SocketEvents[K]> {
  return new Promise((resolve) => {
    const listener = (...args: smart.SocketEvents[K]): void => {
      if (!match(...args)) return;
      (sock.events.off as (t: K, l: typeof listener) => void)(type, listener);
      resolve(args);
    };
    (sock.events.on as (t: K, l: typeof listener) => void)(type, listener);
  });
}

/** Resolves once `sock` has `count` connected peers. */
export async function peers(sock: Socket, count: number): Promise<void> {
  while (sock.peerCount < count) await nextEvent(sock, "connect");
}

/** A loopback tcp port nobody listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Receives `n` messages as strings. */
export async function recvStrings(sock: Socket, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) out.push(await sock.recvString());
  return out;
}
