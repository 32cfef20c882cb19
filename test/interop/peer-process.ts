// A libzmq peer in its own process, driven over the IPC channel by
// RemotePeer (remote.ts). It only acts when started with the peer flag, so
// the test runner can load this file without side effects.
import type { PeerReply, PeerRequest } from "./remote.js";

const PEER_FLAG = "--libzmq-interop-peer";

interface PeerSocket {
  readonly lastEndpoint: string | null;
  bind(address: string): Promise<void>;
  connect(address: string, options?: { routingId?: string }): void;
  close(): void;
  send(message: Uint8Array[]): Promise<void>;
  receive(): Promise<Buffer[]>;
  subscribe(...topics: string[]): void;
}

async function main(send: (reply: PeerReply) => void): Promise<void> {
  const zmq = await import("zeromq");
  let sock: PeerSocket | undefined;

  const current = (): PeerSocket => {
    if (!sock) throw new Error("no socket opened");
    return sock;
  };

  const handle = async (request: PeerRequest): Promise<unknown> => {
    switch (request.op) {
      case "open": {
        const Ctor = zmq[request.kind] as unknown as new (options: object) => PeerSocket;
        sock = new Ctor({ linger: 0, ...request.options });
        return null;
      }
      case "bind":
        await current().bind(request.address);
        return current().lastEndpoint;
      case "connect":
        if (request.routingId !== undefined) current().connect(request.address, { routingId: request.routingId });
        else current().connect(request.address);
        return null;
      case "send":
        await current().send(request.frames);
        return null;
      case "receive":
        return await current().receive();
      case "subscribe":
        current().subscribe(request.topic);
        return null;
      case "close":
        current().close();
        sock = undefined;
        return null;
    }
  };

  process.on("message", (request: PeerRequest) => {
    handle(request).then(
      (result) => send({ id: request.id, ok: true, result }),
      (error: unknown) => send({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  process.on("disconnect", () => {
    sock?.close();
    process.exit(0);
  });
  send({ id: 0, ok: true, result: "ready" });
}

if (process.argv.includes(PEER_FLAG) && process.send) {
  const channel = process.send.bind(process);
  void main((reply) => {
    channel(reply);
  });
}
