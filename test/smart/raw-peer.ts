// A hand-driven aiomsg v1 peer over node:net for the smart Socket tests: it
// writes exactly the bytes a test gives it and records every frame it gets,
// so tests can pipeline, misbehave, withhold ACKs or stay silent.
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Server, type Socket as NetSocket } from "node:net";
import { FrameDecoder, encodeHello, type Frame } from "../../src/smart/index.js";

export class RawPeer {
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private readonly waiters: Array<() => void> = [];
  /** Resolves when the connection has closed (either side). */
  readonly closed: Promise<void>;

  constructor(readonly socket: NetSocket) {
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.decoder.next()) {
        this.frames.push({ type: frame.type, body: Buffer.from(frame.body) });
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.once("close", () => {
      for (const wake of this.waiters.splice(0)) wake();
      resolve();
    }));
  }

  /** Connects to a bound tcp endpoint ("tcp://127.0.0.1:PORT"). */
  static async connect(endpoint: string): Promise<RawPeer> {
    const port = Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
    const socket = connect({ host: "127.0.0.1", port });
    await once(socket, "connect");
    return new RawPeer(socket);
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  write(...buffers: Buffer[]): void {
    this.socket.write(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers));
  }

  hello(identity: Buffer): void {
    this.write(encodeHello(identity));
  }

  /** Every frame received so far that has not been taken. */
  get received(): readonly Frame[] {
    return this.frames;
  }

  /**
   * The next received frame whose type is in `types` (frames of other types
   * before it are discarded); rejects if the connection closes first.
   */
  async next(...types: number[]): Promise<Frame> {
    for (;;) {
      while (this.frames.length > 0) {
        const frame = this.frames.shift()!;
        if (types.length === 0 || types.includes(frame.type)) return frame;
      }
      if (this.socket.destroyed || this.socket.readableEnded) throw new Error("connection closed");
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The same as destroy(), so test scopes can close it. */
  close(): void {
    this.socket.destroy();
  }
}

/** A raw listener on 127.0.0.1 (ephemeral port) for tests of the connect end. */
export class RawServer {
  private readonly accepted: RawPeer[] = [];
  private readonly waiters: Array<(peer: RawPeer) => void> = [];
  private readonly all = new Set<RawPeer>();

  private constructor(readonly server: Server) {
    server.on("connection", (socket) => {
      const peer = new RawPeer(socket);
      this.all.add(peer);
      const waiter = this.waiters.shift();
      if (waiter !== undefined) waiter(peer);
      else this.accepted.push(peer);
    });
  }

  static async listen(port = 0): Promise<RawServer> {
    const server = createServer();
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    return new RawServer(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get endpoint(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  /** The next accepted connection. */
  accept(): Promise<RawPeer> {
    const peer = this.accepted.shift();
    if (peer !== undefined) return Promise.resolve(peer);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops listening and drops every accepted connection. */
  close(): Promise<void> {
    for (const peer of this.all) peer.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A 16-byte identity filled with `byte`. */
export function id(byte: number): Buffer {
  return Buffer.alloc(16, byte);
}
