// A hand-driven ZMTP peer over a raw stream: it completes the NULL handshake
// itself and then does only what the test tells it to, so a test can play a
// peer that goes silent, or watch the heartbeat commands a socket sends.
import { once } from "node:events";
import { createServer, type Server, type Socket as NetSocket } from "node:net";
import {
  FLAG_COMMAND, FrameDecoder, encodeFrame, encodeGreeting, encodePing, encodePong, encodeReady, parseCommand,
  parsePing, type FrameSink, type Greeting,
} from "../../src/wire/index.js";
import { uniqueEndpoint } from "./endpoints.js";

export interface RawCommand {
  name: string;
  data: Buffer;
}

/** A FIFO whose `next()` waits for the next item. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(item: T) => void> = [];
  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }
  next(): Promise<T> {
    const item = this.items.shift();
    return item !== undefined ? Promise.resolve(item) : new Promise((resolve) => this.waiters.push(resolve));
  }
  get length(): number {
    return this.items.length;
  }
}

/** One accepted connection, already greeted; READY goes out as soon as the peer's greeting is in. */
export class RawConnection implements FrameSink {
  readonly commands = new Inbox<RawCommand>();
  readonly messages = new Inbox<Buffer[]>();
  /** Resolves with the peer's READY properties once its handshake is done. */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private readonly decoder = new FrameDecoder(this, -1);
  private parts: Buffer[] = [];
  private peerReady = false;
  /** Closes with the stream. */
  readonly closed: Promise<void>;

  constructor(
    readonly stream: NetSocket,
    private readonly socketType: string,
    /** False: never greet, so the handshake never completes. */
    private readonly greet: boolean,
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.closed = once(stream, "close").then(() => undefined);
    stream.on("error", () => {});
    stream.on("data", (chunk: Buffer) => this.decoder.push(chunk));
    if (greet) stream.write(encodeGreeting("NULL"));
  }

  onGreeting(_greeting: Greeting): void {
    if (this.greet) this.stream.write(encodeReady(this.socketType, undefined));
  }

  onFrame(body: Buffer, flags: number): void {
    if ((flags & FLAG_COMMAND) !== 0) {
      const { name, data } = parseCommand(body);
      if (!this.peerReady && name === "READY") {
        this.peerReady = true;
        this.markReady();
        return;
      }
      this.commands.push({ name, data: Buffer.from(data) });
      return;
    }
    this.parts.push(Buffer.from(body));
    if ((flags & 1) === 0) {
      this.messages.push(this.parts);
      this.parts = [];
    }
  }

  /** Waits for the next command named `name`, skipping others. */
  async nextCommand(name: string): Promise<RawCommand> {
    for (;;) {
      const command = await this.commands.next();
      if (command.name === name) return command;
    }
  }

  /** Sends a PING with `ttlMs` and a context the peer must echo in its PONG. */
  ping(context: string, ttlMs = 0): void {
    this.stream.write(encodePing(ttlMs, Buffer.from(context)));
  }

  /** Answers a PING as a live peer would. */
  pong(ping: RawCommand): void {
    this.stream.write(encodePong(parsePing(ping.data).context));
  }

  /** Sends a data message. */
  send(frames: readonly string[]): void {
    frames.forEach((frame, i) => this.stream.write(encodeFrame(Buffer.from(frame), i < frames.length - 1)));
  }

  destroy(): void {
    this.stream.destroy();
  }
}

export interface RawServerOptions {
  /** Where to listen: an ephemeral loopback tcp port (default) or a fresh ipc socket file. */
  transport?: "tcp" | "ipc";
  /** False: accept connections but never greet, so no handshake completes. Default true. */
  greet?: boolean;
}

/** A listener (tcp on loopback, or ipc) whose connections are {@link RawConnection}s. */
export class RawServer {
  readonly connections = new Inbox<RawConnection>();
  private readonly all: RawConnection[] = [];
  private readonly server: Server;
  private address = "";

  private constructor(socketType: string, greet: boolean) {
    this.server = createServer((stream) => {
      const connection = new RawConnection(stream, socketType, greet);
      this.all.push(connection);
      this.connections.push(connection);
    });
  }

  /** Listens, announcing `socketType` in READY. */
  static async listen(socketType: string, options: RawServerOptions = {}): Promise<RawServer> {
    const self = new RawServer(socketType, options.greet ?? true);
    if (options.transport === "ipc") {
      const address = uniqueEndpoint("ipc");
      self.server.listen(address.slice("ipc://".length));
      await once(self.server, "listening");
      self.address = address;
    } else {
      self.server.listen(0, "127.0.0.1");
      await once(self.server, "listening");
      const bound = self.server.address();
      if (bound === null || typeof bound === "string") throw new Error("no tcp address");
      self.address = `tcp://127.0.0.1:${bound.port}`;
    }
    return self;
  }

  /** The endpoint to connect to. */
  get endpoint(): string {
    return this.address;
  }

  /** Waits for the next accepted connection. */
  accepted(): Promise<RawConnection> {
    return this.connections.next();
  }

  /** Stops listening and drops every connection. */
  close(): void {
    for (const connection of this.all) connection.destroy();
    this.server.close();
  }
}
