/**
 * ZMTP heartbeats (RFC 37, digest §2.11), as libzmq does them:
 * - with `interval` > 0, send a PING every interval, the first one an interval
 *   after the handshake, whether or not PONGs come back;
 * - on sending a PING, arm a timeout (default = interval) unless one is armed;
 *   any inbound traffic cancels it; if it fires, the link is dead;
 * - a PING from the peer with a TTL arms a TTL timer unless one is armed; any
 *   inbound traffic cancels it; if it fires, the link is dead.
 *
 * "Any inbound traffic cancels" is implemented without touching timers on
 * the hot path: the connection calls {@link Heartbeat.activity} per chunk,
 * which only sets a flag, and a timer that fires checks the flag.
 */
import type { Clock, TimerHandle } from "./clock.js";

export interface HeartbeatOptions {
  /** ms between PINGs; 0 disables sending PINGs. */
  interval: number;
  /** ms to wait for traffic after a PING; <= 0 means "= interval". */
  timeout: number;
  /** ms the peer may stay silent after our PING (sent in the PING as TTL); 0 = none. */
  ttl: number;
}

export interface HeartbeatPorts {
  sendPing(ttlMs: number): void;
  /** The peer went silent: close the link. */
  dead(reason: "timeout" | "ttl"): void;
}

export class Heartbeat {
  private pingTimer: TimerHandle | undefined;
  private timeoutTimer: TimerHandle | undefined;
  private ttlTimer: TimerHandle | undefined;
  private heardSincePing = false;
  private heardSinceTtl = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly options: HeartbeatOptions,
    private readonly ports: HeartbeatPorts,
  ) {}

  /** Starts sending PINGs (call once the handshake is done). */
  start(): void {
    if (this.options.interval > 0) this.schedulePing();
  }

  /** Inbound traffic arrived. Called per chunk: keep it cheap. */
  activity(): void {
    this.heardSincePing = true;
    this.heardSinceTtl = true;
  }

  /** The peer sent a PING carrying `ttlMs` (0 = none). */
  peerPing(ttlMs: number): void {
    if (ttlMs <= 0 || this.ttlTimer !== undefined || this.stopped) return;
    this.heardSinceTtl = false;
    this.ttlTimer = this.clock.setTimeout(() => {
      this.ttlTimer = undefined;
      if (!this.heardSinceTtl) this.fail("ttl");
    }, ttlMs);
  }

  stop(): void {
    this.stopped = true;
    for (const t of [this.pingTimer, this.timeoutTimer, this.ttlTimer]) if (t !== undefined) this.clock.clearTimeout(t);
    this.pingTimer = this.timeoutTimer = this.ttlTimer = undefined;
  }

  private schedulePing(): void {
    this.pingTimer = this.clock.setTimeout(() => {
      this.pingTimer = undefined;
      if (this.stopped) return;
      this.ports.sendPing(this.options.ttl);
      if (this.timeoutTimer === undefined) {
        this.heardSincePing = false;
        const timeout = this.options.timeout > 0 ? this.options.timeout : this.options.interval;
        this.timeoutTimer = this.clock.setTimeout(() => {
          this.timeoutTimer = undefined;
          if (!this.heardSincePing) this.fail("timeout");
        }, timeout);
      }
      if (!this.stopped) this.schedulePing();
    }, this.options.interval);
  }

  private fail(reason: "timeout" | "ttl"): void {
    if (this.stopped) return;
    this.stop();
    this.ports.dead(reason);
  }
}
