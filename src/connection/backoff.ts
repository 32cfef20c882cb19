/**
 * Reconnect delays as data (digest §6.5, verified against libzmq 4.3.4):
 * the first attempt after connect() is immediate; each retry waits
 * `current + random(0 .. interval-1)`, where `current` starts at `interval`
 * and doubles per failed attempt up to `maxInterval` when `maxInterval > interval`.
 */
export interface ReconnectPolicy {
  /** Base delay in ms (reconnectInterval); <= 0 disables reconnection, as in libzmq 4.3. */
  interval: number;
  /** Cap for exponential growth in ms (reconnectMaxInterval); 0 = no growth. */
  maxInterval: number;
}

/**
 * The delay before retry number `attempt` (1 = the first retry).
 * `random` returns a number in [0, 1), injectable for tests.
 */
export function reconnectDelay(policy: ReconnectPolicy, attempt: number, random: () => number = Math.random): number {
  const { interval, maxInterval } = policy;
  if (interval <= 0) return -1;
  let current = interval;
  if (maxInterval > interval) {
    for (let i = 1; i < attempt && current < maxInterval; i++) current = Math.min(current * 2, maxInterval);
  }
  return current + Math.floor(random() * interval);
}
