/**
 * One connection's heartbeat clock: send a HEARTBEAT after `interval` ms
 * without sending anything, and declare the connection dead after `timeout`
 * ms without receiving anything. Timestamps rather than timers per frame:
 * each frame only records the time, and each timer, when it fires, re-arms
 * itself for what is left.
 */
import type { Clock, TimerHandle } from "../connection/clock.js";

export interface LivenessHooks {
  /** Nothing was sent for `interval` ms: send a HEARTBEAT (and call sent()). */
  heartbeat(): void;
  /** Nothing was received for `silentMs` >= `timeout` ms. */
  dead(silentMs: number): void;
}

export class Liveness {
  private lastReceive: number;
  private lastSend: number;
  private receiveTimer: TimerHandle | undefined;
  private sendTimer: TimerHandle | undefined;
  private paused = false;

  /** Starts watching the receive side at once (a peer that never sends its HELLO is caught too). */
  constructor(
    private readonly clock: Clock,
    private readonly interval: number,
    private readonly timeout: number,
    private readonly hooks: LivenessHooks,
  ) {
    const now = clock.now();
    this.lastReceive = now;
    this.lastSend = now;
    this.armReceive(timeout);
  }

  /** Starts sending heartbeats (once the HELLO exchange is done). */
  startSending(): void {
    if (this.sendTimer === undefined) this.armSend(this.interval);
  }

  received(): void {
    this.lastReceive = this.clock.now();
  }

  sent(): void {
    this.lastSend = this.clock.now();
  }

  /** We stopped reading: silence says nothing about the peer until resume(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.lastReceive = this.clock.now();
  }

  stop(): void {
    if (this.receiveTimer !== undefined) this.clock.clearTimeout(this.receiveTimer);
    if (this.sendTimer !== undefined) this.clock.clearTimeout(this.sendTimer);
    this.receiveTimer = this.sendTimer = undefined;
  }

  private armReceive(ms: number): void {
    this.receiveTimer = this.clock.setTimeout(this.onReceiveTimer, ms);
  }

  private readonly onReceiveTimer = (): void => {
    this.receiveTimer = undefined;
    if (this.paused) return this.armReceive(this.timeout);
    const silent = this.clock.now() - this.lastReceive;
    if (silent >= this.timeout) return this.hooks.dead(silent);
    this.armReceive(this.timeout - silent);
  };

  private armSend(ms: number): void {
    this.sendTimer = this.clock.setTimeout(this.onSendTimer, ms);
  }

  private readonly onSendTimer = (): void => {
    this.sendTimer = undefined;
    const idle = this.clock.now() - this.lastSend;
    if (idle >= this.interval) {
      // Only when idle: every frame sent moves lastSend and so postpones this.
      this.hooks.heartbeat();
      this.lastSend = this.clock.now();
      return this.armSend(this.interval);
    }
    this.armSend(this.interval - idle);
  };
}
