/**
 * One aiomsg v1 connection over any node Duplex stream (a net.Socket now;
 * a TLS socket or a WebSocket-backed Duplex plug in the same way): HELLO
 * exchange, framing, heartbeats, write batching and back-pressure.
 *
 * ```
 *  Hello --peer HELLO accepted--> Ready --EOF/error/timeout/close--> Closed
 *    \_______________________ error ___________________________/
 * ```
 *
 * Our HELLO is written the moment the Peer is built, without waiting for the
 * peer's. Every complete frame already buffered is processed before waiting
 * for more bytes, so a HELLO pipelined with DATA in one write is handled.
 * Outgoing messages are batched and written once per event-loop turn; while
 * the stream refuses more (write() returned false) they wait for 'drain' in a
 * queue bounded by `queueSize` messages, which the owner checks (`hasRoom`).
 */
import type { Duplex } from "node:stream";
import { ProtocolError, SwitchboardError, TransportError } from "../errors.js";
import type { Clock } from "../connection/clock.js";
import { Queue } from "../util/queue.js";
import { Liveness } from "./liveness.js";
import {
  FrameDecoder, TYPE_DATA, TYPE_DATA_REQ, encodeAck, encodeHeartbeat, encodeHello, frameHeader, parseEnvelope,
  type Frame,
} from "./wire.js";

/** A message on its way out through one connection. */
export interface OutMessage {
  readonly payload: Buffer;
  /** The at-least-once message id: sent as DATA_REQ when set, as DATA otherwise. */
  readonly id?: Buffer | undefined;
  /** How the socket chose the connection; decides what happens to the message if the connection is lost before it is written. */
  readonly route: "roundrobin" | "publish" | "identity";
  /** Called once the message has been handed to the stream. */
  readonly written?: ((peer: Peer) => void) | undefined;
}

/** Bytes of a frame's length prefix and type. */
const HEADER_BYTES = 5;

export interface PeerOptions {
  /** Our identity, sent in our HELLO. */
  identity: Buffer;
  clock: Clock;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  maxFrameSize: number;
  /** Most messages queued and not yet handed to the stream. */
  queueSize: number;
  /** The endpoint, for errors and diagnostics. */
  address: string;
}

export interface PeerHandler {
  /** The peer's HELLO arrived. Return an error to refuse the connection (it is then closed with it). */
  hello(peer: Peer): SwitchboardError | undefined;
  /** The HELLO exchange is complete: messages may be sent, and frames behind the HELLO are handled next. */
  ready(peer: Peer): void;
  /** A DATA (id undefined) or DATA_REQ arrived. */
  message(peer: Peer, payload: Buffer, id: Buffer | undefined): void;
  ack(peer: Peer, id: Buffer): void;
  /** Queued messages were handed to the stream: the queue may have room. */
  room(peer: Peer): void;
  /** The connection is gone. `unsent` are the queued messages never handed to the stream, in order. */
  closed(peer: Peer, error: SwitchboardError | undefined, wasReady: boolean, unsent: OutMessage[]): void;
}

const enum State {
  Hello,
  Ready,
  Closed,
}

/** Write as soon as this many bytes are batched, and cut batches at this size. */
const FLUSH_BYTES = 256 * 1024;
/** Batches smaller than this are copied into one buffer for a single write; larger ones are written piecewise under cork. */
const CONCAT_BYTES = 64 * 1024;
/**
 * ACKs waiting while the stream is blocked. A peer that keeps resending ids
 * we already delivered while not reading our ACKs could otherwise grow this
 * for ever; an ACK dropped here is harmless, the sender resends and gets
 * another.
 */
const MAX_CONTROL_FRAMES = 10_000;

export class Peer {
  private state = State.Hello;
  private readonly decoder: FrameDecoder;
  private readonly queue = new Queue<OutMessage>();
  private control: Buffer[] = [];
  private flushScheduled = false;
  private blocked = false;
  private readPaused = false;
  private inFrameLoop = false;
  private ending = false;
  /** The peer's EOF arrived while reading was paused; honoured once the buffered frames are handled. */
  private endPending = false;
  private finishWaiters: Array<() => void> = [];
  private readonly liveness: Liveness;
  private closeError: SwitchboardError | undefined;
  private peerIdentity: Buffer | undefined;
  /** Owner's bookkeeping slot (e.g. the identity key it registered the peer under). */
  key = "";

  constructor(
    private readonly stream: Duplex,
    private readonly options: PeerOptions,
    private readonly handler: PeerHandler,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameSize);
    stream.on("data", this.onData);
    stream.on("drain", this.onDrain);
    stream.on("error", this.onError);
    stream.on("end", this.onEnd);
    stream.on("close", this.onClose);
    stream.on("finish", this.onFinish);
    this.liveness = new Liveness(options.clock, options.heartbeatInterval, options.heartbeatTimeout, {
      heartbeat: () => {
        if (this.state === State.Ready) this.stream.write(encodeHeartbeat());
      },
      dead: (silent) => this.fail(new ProtocolError("ERR_AIOMSG_HEARTBEAT_TIMEOUT", `nothing received for ${silent} ms`, {
        address: options.address,
        fatal: false,
      })),
    });
    stream.write(encodeHello(options.identity));
  }

  /** The peer's identity, once its HELLO arrived. */
  get identity(): Buffer | undefined {
    return this.peerIdentity;
  }

  get address(): string {
    return this.options.address;
  }

  get ready(): boolean {
    return this.state === State.Ready;
  }

  get closed(): boolean {
    return this.state === State.Closed;
  }

  /** Messages queued and not yet handed to the stream. */
  get queued(): number {
    return this.queue.length;
  }

  /** Whether one more message may be queued. */
  get hasRoom(): boolean {
    return this.state === State.Ready && !this.ending && this.queue.length < this.options.queueSize;
  }

  /** Queues a message (the caller checked `hasRoom`). */
  send(message: OutMessage): void {
    if (this.state !== State.Ready) return;
    this.queue.push(message);
    this.scheduleFlush();
  }

  sendAck(id: Buffer): void {
    if (this.state !== State.Ready || this.control.length >= MAX_CONTROL_FRAMES) return;
    this.control.push(encodeAck(id));
    this.scheduleFlush();
  }

  /** Stops taking frames from the peer (the receive queue is full); the liveness check is suspended meanwhile. */
  pauseReading(): void {
    if (this.readPaused || this.state === State.Closed) return;
    this.readPaused = true;
    this.liveness.pause();
    this.stream.pause();
  }

  resumeReading(): void {
    if (!this.readPaused || this.state === State.Closed) return;
    this.readPaused = false;
    this.liveness.resume();
    this.processFrames();
    if (this.readPaused || this.closed) return;
    if (this.endPending) return this.onEnd();
    this.stream.resume();
  }

  /** Everything queued has been handed to the stream. */
  get flushed(): boolean {
    return this.queue.length === 0 && this.control.length === 0;
  }

  /** Graceful close: writes what is queued, then ends the stream. The owner destroys it after its deadline. */
  end(): void {
    if (this.state === State.Closed || this.ending) return;
    this.ending = true;
    this.flush();
    this.endIfFlushed();
  }

  /** Resolves once the stream has handed everything, its end included, to the operating system, or the connection closed. */
  finished(): Promise<void> {
    if (this.state === State.Closed || this.stream.writableFinished) return Promise.resolve();
    return new Promise((resolve) => this.finishWaiters.push(resolve));
  }

  /** Closes at once; queued messages are reported as unsent. */
  destroy(error?: SwitchboardError): void {
    this.fail(error);
  }

  // ------------------------------------------------------------------ reading

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === State.Closed) return;
    this.liveness.received();
    try {
      this.decoder.push(chunk);
    } catch (error) {
      return this.fail(asError(error));
    }
    this.processFrames();
  };

  /** Handles every complete buffered frame, unless reading is paused. */
  private processFrames(): void {
    if (this.inFrameLoop) return;
    this.inFrameLoop = true;
    try {
      while (!this.readPaused && this.state !== State.Closed) {
        const frame = this.decoder.next();
        if (frame === undefined) break;
        this.onFrame(frame);
      }
    } catch (error) {
      this.fail(asError(error));
    } finally {
      this.inFrameLoop = false;
    }
  }

  private onFrame(frame: Frame): void {
    const envelope = parseEnvelope(frame);
    if (envelope.kind === "unknown") return; // a newer peer's frame: skipped, the length already consumed it
    if (this.state === State.Hello) {
      if (envelope.kind !== "hello") {
        throw new ProtocolError("ERR_AIOMSG_BAD_HELLO", `expected HELLO first, got ${envelope.kind.toUpperCase()}`);
      }
      this.peerIdentity = Buffer.from(envelope.identity);
      const refusal = this.handler.hello(this);
      if (refusal !== undefined) return this.fail(refusal);
      this.state = State.Ready;
      this.liveness.startSending();
      return this.handler.ready(this);
    }
    switch (envelope.kind) {
      case "hello":
        throw new ProtocolError("ERR_AIOMSG_BAD_HELLO", "second HELLO on one connection");
      case "heartbeat":
        return;
      case "data":
        return this.handler.message(this, envelope.payload, undefined);
      case "data-req":
        return this.handler.message(this, envelope.payload, envelope.id);
      case "ack":
        return this.handler.ack(this, envelope.id);
    }
  }

  // ------------------------------------------------------------------ writing

  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushLater);
  }

  /** Hands queued frames to the stream in batches until it refuses more. */
  private flush(): void {
    if (this.state === State.Closed || this.blocked) return;
    let moved = 0;
    while (this.control.length > 0 || this.queue.length > 0) {
      const chunks: Buffer[] = this.control;
      let bytes = 0;
      for (const frame of chunks) bytes += frame.length;
      this.control = [];
      const written: OutMessage[] = [];
      while (bytes < FLUSH_BYTES) {
        const message = this.queue.shift();
        if (message === undefined) break;
        const idLength = message.id === undefined ? 0 : message.id.length;
        chunks.push(frameHeader(message.id === undefined ? TYPE_DATA : TYPE_DATA_REQ, idLength + message.payload.length));
        if (message.id !== undefined) chunks.push(message.id);
        chunks.push(message.payload);
        bytes += HEADER_BYTES + idLength + message.payload.length;
        written.push(message);
      }
      const accepted = this.writeChunks(chunks, bytes);
      this.liveness.sent();
      moved += written.length;
      for (const message of written) message.written?.(this);
      if (this.closed) return;
      if (!accepted) {
        this.blocked = true;
        break;
      }
    }
    if (moved > 0) this.handler.room(this);
  }

  private writeChunks(chunks: Buffer[], bytes: number): boolean {
    const stream = this.stream;
    if (bytes < CONCAT_BYTES || chunks.length === 1) {
      return stream.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes));
    }
    stream.cork();
    let accepted = true;
    for (const chunk of chunks) accepted = stream.write(chunk);
    stream.uncork();
    return accepted;
  }

  private readonly onDrain = (): void => {
    this.blocked = false;
    this.flush();
    this.endIfFlushed();
  };

  private endIfFlushed(): void {
    if (this.ending && !this.blocked && this.flushed && this.state !== State.Closed && !this.stream.writableEnded) {
      this.stream.end();
    }
  }

  // ------------------------------------------------------------------ ending

  private readonly onError = (error: Error): void => {
    this.fail(TransportError.from(error, this.options.address));
  };

  private readonly onEnd = (): void => {
    if (this.readPaused) {
      this.endPending = true;
      return;
    }
    // A clean EOF between frames is a normal close; one inside a frame lost bytes.
    const error = this.decoder.atBoundary
      ? undefined
      : new TransportError("ECONNRESET", "stream ended inside a frame", { address: this.options.address });
    this.fail(error);
  };

  private readonly onFinish = (): void => {
    for (const resolve of this.finishWaiters.splice(0)) resolve();
  };

  private readonly onClose = (): void => {
    this.fail(undefined);
  };

  private fail(error: SwitchboardError | undefined): void {
    if (this.state === State.Closed) return;
    if (error !== undefined && error.address === undefined && error instanceof ProtocolError) {
      error = new ProtocolError(error.code, error.message, { address: this.options.address, fatal: error.fatal, cause: error.cause });
    }
    this.closeError ??= error;
    const wasReady = this.state === State.Ready;
    this.state = State.Closed;
    this.liveness.stop();
    this.control = [];
    const stream = this.stream;
    stream.off("data", this.onData);
    stream.off("drain", this.onDrain);
    stream.off("end", this.onEnd);
    stream.off("close", this.onClose);
    stream.off("error", this.onError);
    stream.off("finish", this.onFinish);
    this.onFinish();
    // Errors after we let go (a reset racing the destroy) must not crash the process.
    stream.on("error", noop);
    if (!stream.destroyed) stream.destroy();
    this.handler.closed(this, this.closeError, wasReady, this.queue.drain());
  }
}

function noop(): void {}

function asError(error: unknown): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  return new ProtocolError("ERR_AIOMSG_MALFORMED", String(error), { cause: error });
}
