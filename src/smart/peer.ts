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
import { Socket as NetSocket } from "node:net";
import type { Duplex } from "node:stream";
import { ProtocolError, SwitchboardError, TransportError } from "../errors.js";
import type { Clock } from "../connection/clock.js";
import { Queue } from "../util/queue.js";
import { Liveness } from "./liveness.js";
import {
  FrameDecoder, LENGTH_PREFIX, MESSAGE_ID_LENGTH, TYPE_ACK, TYPE_DATA, TYPE_DATA_REQ, encodeHeartbeat, encodeHello, parseEnvelope,
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
/** Bytes of one ACK frame. */
const ACK_FRAME_BYTES = HEADER_BYTES + MESSAGE_ID_LENGTH;

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

/** Cut write batches at this size. */
const FLUSH_BYTES = 256 * 1024;
/**
 * Payloads below this size are copied into the batch's buffer (one write,
 * no per-message buffers); larger ones are written as they are, under cork,
 * where a copy would cost more than the extra chunk.
 */
const COPY_BYTES = 1024;
/** Smallest write buffer allocated for reuse. */
const SLAB_BYTES = 64 * 1024;

/**
 * One write buffer shared by every connection of the process: encoding
 * into memory just written is much cheaper than into fresh memory, which
 * costs about as much as the copy again (page faults, cache misses, GC of
 * external memory). A batch takes it while being encoded and written, and
 * gives it back only once its write completed at once (see Peer.flush).
 */
let spareSlab: Buffer | undefined;
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
  /** ACK frames waiting for the next batch, encoded back to back (no buffer per ACK). */
  private acks: Buffer | undefined;
  private ackBytes = 0;
  /** The messages of the batch being written (kept to spare an array per batch). */
  private readonly batch: OutMessage[] = [];
  /**
   * Whether a write buffer may be reused once the stream's write callback has
   * run. True only for a plain tcp/ipc socket, which is done with the bytes
   * by then; another Duplex (a PassThrough, a WebSocket adapter, TLS) may
   * still hold the chunk it was given.
   */
  private readonly reuseSlabs: boolean;
  /** The write buffer of the batch being written, when it may be reused. */
  private slab: Buffer | undefined;
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
    this.reuseSlabs = Object.getPrototypeOf(stream) === NetSocket.prototype;
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

  /** Queues an ACK of a 16-byte message id. */
  sendAck(id: Buffer): void {
    if (this.state !== State.Ready || this.ackBytes >= MAX_CONTROL_FRAMES * ACK_FRAME_BYTES) return;
    if (id.length !== MESSAGE_ID_LENGTH) throw new RangeError(`message id must be ${MESSAGE_ID_LENGTH} bytes, got ${id.length}`);
    let acks = this.acks;
    if (acks === undefined || this.ackBytes + ACK_FRAME_BYTES > acks.length) {
      const grown = Buffer.allocUnsafe(Math.max(64 * ACK_FRAME_BYTES, 2 * (acks?.length ?? 0)));
      if (acks !== undefined) acks.copy(grown, 0, 0, this.ackBytes);
      this.acks = acks = grown;
    }
    const at = this.ackBytes;
    acks.writeUInt32BE(1 + MESSAGE_ID_LENGTH, at);
    acks[at + LENGTH_PREFIX] = TYPE_ACK;
    acks.set(id, at + HEADER_BYTES);
    this.ackBytes = at + ACK_FRAME_BYTES;
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
    return this.queue.length === 0 && this.ackBytes === 0;
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
    // The hot path: DATA on a ready connection needs no envelope object.
    if (frame.type === TYPE_DATA && this.state === State.Ready) return this.handler.message(this, frame.body, undefined);
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
    while (this.ackBytes > 0 || this.queue.length > 0) {
      const written = this.batch;
      const chunks = this.encodeBatch(written);
      const accepted = chunks.length === 1 ? this.stream.write(chunks[0]!) : this.writeChunks(chunks);
      // Nothing left in the stream: the socket has handed every byte to the
      // OS and the buffer is free again.
      if (this.slab !== undefined && this.stream.writableLength === 0) spareSlab = this.slab;
      this.slab = undefined;
      this.liveness.sent();
      moved += written.length;
      for (const message of written) message.written?.(this);
      written.length = 0;
      if (this.closed) return;
      if (!accepted) {
        this.blocked = true;
        break;
      }
    }
    if (moved > 0) this.handler.room(this);
  }

  /**
   * Takes the queued ACKs and messages up to FLUSH_BYTES (at least
   * one message) and lays them out for writing: headers, ids and small
   * payloads copied into one buffer, each large payload a chunk of its own.
   * The messages taken are appended to `written`.
   */
  private encodeBatch(written: OutMessage[]): Buffer[] {
    const ackBytes = this.ackBytes;
    this.ackBytes = 0;
    let copied = ackBytes;
    let bytes = copied;
    while (bytes < FLUSH_BYTES) {
      const message = this.queue.shift();
      if (message === undefined) break;
      const frame = HEADER_BYTES + (message.id === undefined ? 0 : message.id.length);
      const size = message.payload.length;
      copied += size < COPY_BYTES ? frame + size : frame;
      bytes += frame + size;
      written.push(message);
    }
    const slab = this.writeBuffer(copied);
    const chunks: Buffer[] = [];
    let at = 0;
    let mark = 0;
    if (ackBytes > 0) {
      this.acks!.copy(slab, 0, 0, ackBytes);
      at = ackBytes;
      // A burst's worth is kept for the next ACKs; a backlog's is let go.
      if (this.acks!.length > 1024 * ACK_FRAME_BYTES) this.acks = undefined;
    }
    for (const message of written) {
      const { id, payload } = message;
      slab.writeUInt32BE(1 + (id === undefined ? 0 : id.length) + payload.length, at);
      slab[at + LENGTH_PREFIX] = id === undefined ? TYPE_DATA : TYPE_DATA_REQ;
      at += HEADER_BYTES;
      if (id !== undefined) {
        slab.set(id, at);
        at += id.length;
      }
      if (payload.length < COPY_BYTES) {
        slab.set(payload, at);
        at += payload.length;
      } else {
        chunks.push(slab.subarray(mark, at), payload);
        mark = at;
      }
    }
    if (at > mark) chunks.push(mark === 0 ? slab : slab.subarray(mark, at));
    return chunks;
  }

  /** A buffer of `size` bytes to encode a batch into: the shared spare when it may be used, else a new one. */
  private writeBuffer(size: number): Buffer {
    if (!this.reuseSlabs) return Buffer.allocUnsafe(size);
    let slab = spareSlab;
    spareSlab = undefined;
    if (slab === undefined || slab.length < size) slab = Buffer.allocUnsafeSlow(Math.max(size, SLAB_BYTES));
    this.slab = slab;
    return slab.length === size ? slab : slab.subarray(0, size);
  }

  /** Several chunks go out under cork, so the stream hands them to the OS in one vectored write. */
  private writeChunks(chunks: Buffer[]): boolean {
    const stream = this.stream;
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
    this.acks = undefined;
    this.ackBytes = 0;
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
