/**
 * One ZMTP 3.x peer link over a byte stream (tcp or ipc): greeting, NULL
 * handshake, socket-type check, framing, heartbeats and write batching.
 *
 * ```
 *  Greeting --greeting ok--> Handshake --peer READY ok--> Ready --end/error--> Closed
 *      \_________________________\______________ error _____________________/
 * ```
 *
 * Rules that keep libzmq happy (digest §0): the whole greeting goes out at
 * once; our READY goes out the moment the peer's greeting is in, before any
 * further byte is parsed; no data frame leaves before the peer's READY
 * arrived; exact-case `Socket-Type` and `Identity`.
 */
import type { Socket as NetSocket } from "node:net";
import { ProtocolError, SwitchboardError, TransportError } from "../errors.js";
import { channels } from "../diagnostics.js";
import { FLAG_COMMAND, FLAG_MORE, SENDS_IDENTITY, isCompatible, type SocketType } from "../wire/constants.js";
import { FrameDecoder, type FrameSink } from "../wire/decoder.js";
import { FrameEncoder, type FrameFill } from "../wire/encoder.js";
import { encodeGreeting, type Greeting } from "../wire/greeting.js";
import {
  encodeCancel, encodePing, encodePong, encodeReady, encodeSubscribe, getProperty, legacySubscription,
  parseCommand, parseError, parseMetadata, parsePing, type Metadata,
} from "../wire/commands.js";
import type { Clock, TimerHandle } from "./clock.js";
import { Heartbeat, type HeartbeatOptions } from "./heartbeat.js";
import type { Link, LinkHandler, PeerInfo } from "./link.js";

export interface ZmtpOptions {
  socketType: SocketType;
  /** Our routing id, sent as `Identity` by REQ, DEALER and ROUTER. */
  routingId: Buffer | undefined;
  /** Largest inbound frame and message, in bytes; -1 = no limit. */
  maxMessageSize: number;
  /** ms allowed for the handshake; 0 = no limit. */
  handshakeInterval: number;
  heartbeat: HeartbeatOptions;
  clock: Clock;
  /** The endpoint, for events and errors. */
  address: string;
  /** Extra READY properties (X-...). */
  metadata?: Metadata;
}

export interface ZmtpEvents {
  /** The handshake completed; set a handler now to receive messages. */
  ready(connection: ZmtpConnection): void;
  /** The connection ended, before or after the handshake. */
  closed(connection: ZmtpConnection, error: SwitchboardError | undefined, wasReady: boolean): void;
}

const enum State {
  Greeting,
  Handshake,
  Ready,
  Closed,
}

/**
 * Most frames one message may have. Each frame is an object in memory (about
 * 100 bytes), so without a cap a peer could send empty frames with MORE for
 * ever. The cap follows maxMessageSize (one frame per 64 bytes of it), within
 * these bounds.
 */
const MIN_FRAMES = 1024;
const MAX_FRAMES = 100_000;
/** Write as soon as this many bytes are batched, without waiting for the next turn. */
const FLUSH_BYTES = 256 * 1024;
/**
 * How far the writer may run ahead of the kernel. Node buffers what the
 * socket does not take at once, and libuv refills the socket from that buffer
 * by itself; letting about 1 MiB wait there keeps the kernel fed while the
 * application produces the next batch, instead of alternating with the
 * reader. Beyond it, messages wait in the pipe (bounded by the high-water
 * mark) until 'drain'.
 */
const WRITE_AHEAD_BYTES = 1024 * 1024;

const noHandler: LinkHandler = {
  onMessage() {},
  onSubscription() {},
  onDrain() {},
  onClose() {},
};

export class ZmtpConnection implements Link, FrameSink {
  private state = State.Greeting;
  private readonly decoder: FrameDecoder;
  private readonly encoder = new FrameEncoder();
  private handler: LinkHandler = noHandler;
  private heartbeat: Heartbeat | undefined;
  private handshakeTimer: TimerHandle | undefined;
  private flushScheduled = false;
  private blocked = false;
  private parts: Buffer[] = [];
  private partsSize = 0;
  private closeError: SwitchboardError | undefined;
  private peerInfo: PeerInfo | undefined;
  private peerMinor = 1;
  /** close() was called: flushing, and no longer delivering messages. */
  private closing = false;
  private readonly maxFrames: number;

  constructor(
    private readonly stream: NetSocket,
    private readonly options: ZmtpOptions,
    private readonly events: ZmtpEvents,
  ) {
    this.decoder = new FrameDecoder(this, options.maxMessageSize);
    const max = options.maxMessageSize;
    this.maxFrames = max < 0 ? MAX_FRAMES : Math.min(MAX_FRAMES, Math.max(MIN_FRAMES, Math.floor(max / 64)));
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("drain", () => this.onStreamDrain());
    stream.on("error", (error) => this.fail(TransportError.from(error, options.address)));
    stream.on("close", () => this.onStreamClose());
    stream.on("end", () => stream.end());
    if (options.handshakeInterval > 0) {
      this.handshakeTimer = options.clock.setTimeout(() => {
        this.handshakeTimer = undefined;
        if (this.state < State.Ready) {
          this.fail(new ProtocolError("ERR_ZMTP_HANDSHAKE_TIMEOUT", "handshake did not complete in time", {
            address: options.address,
            fatal: false,
          }));
        }
      }, options.handshakeInterval);
    }
    stream.write(encodeGreeting("NULL"));
  }

  get peer(): PeerInfo {
    if (!this.peerInfo) throw new Error("peer info is only available once the handshake is done");
    return this.peerInfo;
  }

  get writable(): boolean {
    return this.state === State.Ready && !this.blocked;
  }

  get ready(): boolean {
    return this.state === State.Ready;
  }

  setHandler(handler: LinkHandler): void {
    this.handler = handler;
  }

  write(frames: readonly Buffer[]): void {
    const encoder = this.encoder;
    const last = frames.length - 1;
    for (let i = 0; i < last; i++) encoder.writeFrame(frames[i]!, true);
    encoder.writeFrame(frames[last]!, false);
    this.scheduleFlush();
  }

  writeWith(size: number, fill: FrameFill): void {
    this.encoder.writeFrameWith(size, fill);
    this.scheduleFlush();
  }

  sendSubscription(subscribe: boolean, topic: Buffer): void {
    if (this.state !== State.Ready) return;
    if (this.peerMinor >= 1) {
      this.encoder.writeRaw(subscribe ? encodeSubscribe(topic) : encodeCancel(topic));
    } else {
      this.encoder.writeFrame(legacySubscription(subscribe, topic), false);
    }
    this.scheduleFlush();
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    if (this.state !== State.Closed) this.stream.resume();
  }

  close(): void {
    if (this.state === State.Closed) return;
    this.closing = true;
    this.flush();
    this.stream.end();
    // Keep reading (a receive high-water mark may have paused the stream),
    // or the peer's end of the stream is never seen and the link never closes.
    this.stream.resume();
  }

  destroy(error?: SwitchboardError): void {
    this.fail(error);
  }

  // --- FrameSink -----------------------------------------------------------

  onGreeting(greeting: Greeting): void {
    if (greeting.mechanism !== "NULL") {
      throw new ProtocolError("ERR_ZMTP_MECHANISM_MISMATCH", `peer uses the ${greeting.mechanism} mechanism, we use NULL`);
    }
    this.peerMinor = greeting.minor;
    this.state = State.Handshake;
    const { socketType, routingId, metadata } = this.options;
    const identity = SENDS_IDENTITY.has(socketType) ? (routingId ?? Buffer.alloc(0)) : undefined;
    // Written now, before the decoder parses the bytes behind the greeting.
    this.stream.write(encodeReady(socketType, identity, metadata));
  }

  onFrame(body: Buffer, flags: number): void {
    if (this.state === State.Ready) {
      if ((flags & FLAG_COMMAND) !== 0) return this.onCommand(body);
      if (this.closing) return; // the owner let go of this link: nothing more is delivered
      if ((flags & FLAG_MORE) !== 0) {
        this.partsSize += body.length;
        this.checkMessageSize();
        this.parts.push(body);
      } else if (this.parts.length === 0) {
        this.handler.onMessage([body]);
      } else {
        this.partsSize += body.length;
        this.checkMessageSize();
        const frames = this.parts;
        frames.push(body);
        this.parts = [];
        this.partsSize = 0;
        this.handler.onMessage(frames);
      }
      return;
    }
    if (this.state !== State.Handshake) return;
    if ((flags & FLAG_COMMAND) === 0) {
      throw new ProtocolError("ERR_ZMTP_UNEXPECTED_COMMAND", "data frame before the peer's READY");
    }
    const command = parseCommand(body);
    if (command.name === "ERROR") {
      throw new ProtocolError("ERR_ZMTP_PEER_ERROR", `peer refused the handshake: ${parseError(command.data)}`);
    }
    if (command.name !== "READY") {
      throw new ProtocolError("ERR_ZMTP_UNEXPECTED_COMMAND", `expected READY, got ${command.name}`);
    }
    let metadata: Array<[string, Buffer]>;
    try {
      metadata = parseMetadata(command.data);
    } catch (error) {
      throw new ProtocolError("ERR_ZMTP_MALFORMED_COMMAND_READY", (error as Error).message, { cause: error });
    }
    const type = getProperty(metadata, "Socket-Type")?.toString("latin1");
    if (type === undefined) {
      throw new ProtocolError("ERR_ZMTP_MALFORMED_COMMAND_READY", "READY without Socket-Type");
    }
    if (!isCompatible(this.options.socketType, type)) {
      throw new ProtocolError(
        "ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE",
        `a ${this.options.socketType} socket cannot talk to a ${type} peer`,
      );
    }
    const identity = getProperty(metadata, "Identity");
    this.peerInfo = {
      socketType: type,
      routingId: identity !== undefined && identity.length > 0 ? Buffer.from(identity) : undefined,
      minor: this.peerMinor,
      address: this.options.address,
      metadata,
    };
    this.state = State.Ready;
    if (this.handshakeTimer !== undefined) this.options.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.startHeartbeat();
    if (channels.handshake.hasSubscribers) {
      channels.handshake.publish({ socketType: this.options.socketType, address: this.options.address, peerType: type, minor: this.peerMinor });
    }
    this.events.ready(this);
  }

  /** A message's body bytes are bounded by maxMessageSize, and its frame count by MAX_FRAMES. */
  private checkMessageSize(): void {
    const max = this.options.maxMessageSize;
    if (max >= 0 && this.partsSize > max) {
      throw new ProtocolError("ERR_ZMTP_MESSAGE_TOO_LARGE", `message exceeds the limit of ${max} bytes`);
    }
    if (this.parts.length >= this.maxFrames) {
      throw new ProtocolError("ERR_ZMTP_MESSAGE_TOO_LARGE", `message has more than ${this.maxFrames} frames`);
    }
  }

  private onCommand(body: Buffer): void {
    const { name, data } = parseCommand(body);
    switch (name) {
      case "PING": {
        const ping = parsePing(data);
        this.heartbeat?.peerPing(ping.ttlMs);
        this.encoder.writeRaw(encodePong(ping.context));
        this.scheduleFlush();
        return;
      }
      case "SUBSCRIBE":
        return this.handler.onSubscription(true, Buffer.from(data));
      case "CANCEL":
        return this.handler.onSubscription(false, Buffer.from(data));
      case "ERROR":
        throw new ProtocolError("ERR_ZMTP_PEER_ERROR", `peer sent ERROR: ${parseError(data)}`);
      default:
        // PONG, and commands we do not know, are ignored (as libzmq does).
        return;
    }
  }

  // --- stream events -------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.heartbeat?.activity();
    try {
      this.decoder.push(chunk);
    } catch (error) {
      const e = error instanceof SwitchboardError
        ? error
        : new ProtocolError("ERR_ZMTP_UNSPECIFIED", String(error), { cause: error });
      this.fail(e);
    }
  }

  private onStreamDrain(): void {
    this.blocked = false;
    if (this.state === State.Ready) this.handler.onDrain();
  }

  private onStreamClose(): void {
    this.finish();
  }

  private startHeartbeat(): void {
    const hb = this.options.heartbeat;
    if (hb.interval <= 0) {
      // Still honour the TTL of a peer's PINGs.
      this.heartbeat = new Heartbeat(this.options.clock, hb, {
        sendPing: () => {},
        dead: (reason) => this.onHeartbeatDead(reason),
      });
      return;
    }
    this.heartbeat = new Heartbeat(this.options.clock, hb, {
      sendPing: (ttl) => {
        this.encoder.writeRaw(encodePing(ttl));
        this.flush();
      },
      dead: (reason) => this.onHeartbeatDead(reason),
    });
    this.heartbeat.start();
  }

  private onHeartbeatDead(reason: "timeout" | "ttl"): void {
    this.fail(new ProtocolError(
      "ERR_ZMTP_HEARTBEAT_TIMEOUT",
      reason === "ttl" ? "peer went silent past its heartbeat TTL" : "no traffic from peer within heartbeatTimeout",
      { address: this.options.address, fatal: false },
    ));
  }

  // --- writing -------------------------------------------------------------

  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private scheduleFlush(): void {
    if (this.encoder.pending >= FLUSH_BYTES) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /** Hands the batch to the stream in one vectored write. */
  flush(): void {
    if (this.encoder.pending === 0 || this.state === State.Closed) return;
    const chunks = this.encoder.take();
    const stream = this.stream;
    if (chunks.length === 1) {
      stream.write(chunks[0]!);
    } else {
      stream.cork();
      for (const chunk of chunks) stream.write(chunk);
      stream.uncork();
    }
    if (stream.writableLength >= WRITE_AHEAD_BYTES) this.blocked = true;
  }

  // --- ending --------------------------------------------------------------

  private fail(error: SwitchboardError | undefined): void {
    if (this.state === State.Closed) return;
    this.closeError ??= error;
    this.stream.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.state === State.Closed) return;
    const wasReady = this.state === State.Ready;
    this.state = State.Closed;
    this.decoder.stop();
    this.heartbeat?.stop();
    if (this.handshakeTimer !== undefined) this.options.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    if (!this.stream.destroyed) this.stream.destroy();
    const error = this.closeError;
    if (wasReady) this.handler.onClose(error);
    this.handler = noHandler;
    this.events.closed(this, error, wasReady);
  }
}
