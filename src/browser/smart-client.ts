/**
 * A browser peer for Switchboard's smart Socket (aiomsg protocol v1) over a
 * WebSocket: the standard WebSocket API and nothing from Node, so a page
 * can import it as it is (`switchboard/browser`).
 *
 * ```js
 * import { SmartClient } from "switchboard/browser";
 * const client = await SmartClient.connect("ws://127.0.0.1:25000/");
 * client.send("hello");                     // a DATA frame
 * for await (const bytes of client.messages()) console.log(new TextDecoder().decode(bytes));
 * ```
 *
 * The aiomsg frames (u32 big-endian length, type, body) travel as the
 * payload of binary WebSocket messages; message boundaries mean nothing.
 * The client says HELLO at once with its 16-byte identity, answers every
 * DATA_REQ with an ACK after handing the payload out, sends HEARTBEAT when
 * it has sent nothing for `heartbeatInterval`, and closes when it hears
 * nothing for `heartbeatTimeout`. It sends at most once (DATA); it does not
 * reconnect (a page decides what to do on `closed`).
 */

const HELLO = 0x01;
const HEARTBEAT = 0x02;
const DATA = 0x03;
const DATA_REQ = 0x04;
const ACK = 0x05;
const VERSION = 0x01;
const ID_BYTES = 16;

/** The part of the standard WebSocket API this client uses. */
interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}
type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface SmartClientOptions {
  /** 16 bytes naming this client (default: random). */
  identity?: Uint8Array;
  /** Send HEARTBEAT after this long without sending, ms (default 5000). */
  heartbeatInterval?: number;
  /** Close when nothing arrives for this long, ms (default 15000). */
  heartbeatTimeout?: number;
  /** Largest frame accepted, bytes (default 16 MiB). */
  maxFrameBytes?: number;
  /** The WebSocket constructor (default: the global one). */
  WebSocket?: WebSocketConstructor;
}

export class SmartClient {
  /** The peer's identity, from its HELLO. */
  peerIdentity: Uint8Array | undefined;
  /** Resolves with the reason once the client is closed. */
  readonly closed: Promise<string>;
  private markClosed!: (reason: string) => void;
  private isClosed = false;
  private buffer = new Uint8Array(0);
  private readonly inbox: Uint8Array[] = [];
  private readonly readers: Array<{ resolve(value: Uint8Array | undefined): void }> = [];
  private lastSent = 0;
  private lastHeard = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private markReady!: () => void;
  private failReady!: (error: Error) => void;
  private readonly ready: Promise<void>;

  private constructor(
    private readonly ws: WebSocketLike,
    readonly identity: Uint8Array,
    private readonly options: Required<Omit<SmartClientOptions, "identity" | "WebSocket">>,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => {
      this.lastHeard = Date.now();
      const hello = new Uint8Array(1 + ID_BYTES); // HELLO's body: the version, then the identity
      hello[0] = VERSION;
      hello.set(identity, 1);
      this.write(HELLO, hello);
      const tick = Math.max(10, Math.min(this.options.heartbeatInterval, this.options.heartbeatTimeout) / 4);
      this.timer = setInterval(() => this.checkLiveness(), tick);
    });
    ws.addEventListener("message", (event) => this.onData(event.data));
    ws.addEventListener("close", (event) => this.shutDown(`closed by the peer (${event.code ?? 0}${event.reason ? `: ${event.reason}` : ""})`));
    ws.addEventListener("error", () => this.shutDown("WebSocket error"));
  }

  /** Opens a WebSocket to `url` and completes the HELLO exchange. */
  static async connect(url: string, options: SmartClientOptions = {}): Promise<SmartClient> {
    const Ctor = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) throw new Error("no WebSocket implementation available");
    let identity = options.identity;
    if (!identity) {
      identity = new Uint8Array(ID_BYTES);
      (globalThis as unknown as { crypto: { getRandomValues(a: Uint8Array): Uint8Array } }).crypto.getRandomValues(identity);
    }
    if (identity.length !== ID_BYTES) throw new RangeError(`identity must be ${ID_BYTES} bytes`);
    const client = new SmartClient(new Ctor(url), identity, {
      heartbeatInterval: options.heartbeatInterval ?? 5_000,
      heartbeatTimeout: options.heartbeatTimeout ?? 15_000,
      maxFrameBytes: options.maxFrameBytes ?? 16 * 1024 * 1024,
    });
    await client.ready;
    return client;
  }

  /** Sends one message (a DATA frame); strings go as UTF-8. */
  send(data: Uint8Array | string): void {
    if (this.isClosed) throw new Error("the client is closed");
    this.write(DATA, typeof data === "string" ? new TextEncoder().encode(data) : data);
  }

  /** The next message; undefined once the client is closed and nothing is left. */
  recv(): Promise<Uint8Array | undefined> {
    const next = this.inbox.shift();
    if (next) return Promise.resolve(next);
    if (this.isClosed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.readers.push({ resolve }));
  }

  /** Every message, until the client closes. */
  async *messages(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const message = await this.recv();
      if (message === undefined) return;
      yield message;
    }
  }

  close(): void {
    this.ws.close(1000, "closed");
    this.shutDown("closed");
  }

  private write(type: number, body: Uint8Array): void {
    const frame = new Uint8Array(5 + body.length);
    new DataView(frame.buffer).setUint32(0, 1 + body.length);
    frame[4] = type;
    frame.set(body, 5);
    this.ws.send(frame);
    this.lastSent = Date.now();
  }

  private onData(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) return this.fail("text WebSocket messages are not part of the protocol");
    this.lastHeard = Date.now();
    const chunk = new Uint8Array(data);
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    let at = 0;
    while (joined.length - at >= 4) {
      const length = new DataView(joined.buffer, joined.byteOffset + at, 4).getUint32(0);
      if (length === 0 || length > this.options.maxFrameBytes) return this.fail(`bad frame length ${length}`);
      if (joined.length - at - 4 < length) break;
      this.onFrame(joined[at + 4]!, joined.subarray(at + 5, at + 4 + length));
      if (this.isClosed) return;
      at += 4 + length;
    }
    this.buffer = joined.slice(at);
  }

  private onFrame(type: number, body: Uint8Array): void {
    if (this.peerIdentity === undefined) {
      if (type !== HELLO || body.length !== 1 + ID_BYTES || body[0] !== VERSION) return this.fail("the peer did not start with a version 1 HELLO");
      this.peerIdentity = body.slice(1);
      this.markReady();
      return;
    }
    switch (type) {
      case DATA:
        return this.deliver(body.slice());
      case DATA_REQ:
        if (body.length < ID_BYTES) return this.fail("DATA_REQ shorter than its id");
        this.deliver(body.slice(ID_BYTES));
        return this.write(ACK, body.slice(0, ID_BYTES)); // after handing the payload out
      default:
        return; // HEARTBEAT, ACK (this client never asks for one), unknown types: skipped
    }
  }

  private deliver(message: Uint8Array): void {
    const reader = this.readers.shift();
    if (reader) reader.resolve(message);
    else this.inbox.push(message);
  }

  private checkLiveness(): void {
    const now = Date.now();
    if (now - this.lastHeard > this.options.heartbeatTimeout) return this.fail("heartbeat timeout");
    if (now - this.lastSent >= this.options.heartbeatInterval) this.write(HEARTBEAT, new Uint8Array(0));
  }

  private fail(reason: string): void {
    // A page may only close with 1000 or 3000-4999; 4002 stands for a protocol error.
    this.ws.close(4002, reason.slice(0, 120));
    this.shutDown(reason);
  }

  private shutDown(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.failReady(new Error(reason));
    for (const reader of this.readers.splice(0)) reader.resolve(undefined);
    this.markClosed(reason);
  }
}
