/**
 * Time as a port, so heartbeats, reconnect back-off, handshake deadlines and
 * send/receive timeouts can be tested with fake time.
 */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /**
   * Runs `fn` after `ms` milliseconds. A real timer keeps the process alive
   * only when `keepAlive` is true (reconnect attempts, send/receive
   * timeouts); liveness timers ride on the stream they watch.
   */
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms, keepAlive = false) {
    const timer = setTimeout(fn, ms);
    if (!keepAlive) timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
