/**
 * The connect end's loop: dial, run a connection until it ends, wait, dial
 * again, for as long as the socket lives. The wait before attempt `n` is
 * the user's `reconnectDelay(n)`; `n` counts failures in a row (a failed
 * dial, or a connection that ended before its HELLO exchange) and restarts
 * at 1 after a connection that completed the exchange.
 */
import type { Duplex } from "node:stream";
import type { Clock, TimerHandle } from "../connection/clock.js";
import type { ConnectTarget } from "./transport.js";

export interface ConnectorHooks {
  /** Runs a connection on `stream`; resolves when it has ended, with whether its HELLO exchange completed. */
  session(stream: Duplex, target: ConnectTarget): Promise<boolean>;
  /** Reports a failed dial (for diagnostics); the loop goes on. */
  dialFailed(error: unknown, target: ConnectTarget): void;
}

export class Connector {
  private stopped = false;
  private readonly abort = new AbortController();
  private timer: TimerHandle | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly target: ConnectTarget,
    private readonly clock: Clock,
    private readonly reconnectDelay: (attempt: number) => number,
    private readonly hooks: ConnectorHooks,
  ) {
    // run() catches dial failures itself; this only keeps an unexpected
    // failure of the owner's session hook from crashing the process.
    this.run().catch(() => {});
  }

  /**
   * Stops reconnecting and cancels a dial in progress. A running connection
   * is the owner's to close; the loop ends when it does.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.wake?.();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      let stream: Duplex;
      try {
        stream = await this.target.dial(this.abort.signal);
      } catch (error) {
        if (this.stopped) return;
        this.hooks.dialFailed(error, this.target);
        await this.sleep(++attempt);
        continue;
      }
      if (this.stopped) {
        stream.destroy();
        return;
      }
      const greeted = await this.hooks.session(stream, this.target);
      if (this.stopped) return;
      attempt = greeted ? 1 : attempt + 1;
      await this.sleep(attempt);
    }
  }

  private sleep(attempt: number): Promise<void> {
    let ms: number;
    try {
      ms = Number(this.reconnectDelay(attempt));
    } catch {
      ms = 0; // a throwing delay function must not end the loop
    }
    if (!Number.isFinite(ms) || ms < 0) ms = 0;
    return new Promise<void>((resolve) => {
      if (this.stopped) return resolve();
      this.wake = resolve;
      // keepAlive: a socket waiting to reconnect keeps the process alive, as an open connection would.
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        this.wake = undefined;
        resolve();
      }, ms, true);
    });
  }
}
