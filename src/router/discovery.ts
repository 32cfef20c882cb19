/**
 * Helpers for VLMessaging's two usage patterns.
 *
 * Act as responsibility provider: `provide(conn, service, options)`
 * registers the connection with its router's directory (or others given)
 * and renews the registration every heartbeat, so the entry lives while
 * the provider does and expires soon after it stops. Renewing is
 * registering again, so a directory that forgot the entry (it restarted)
 * learns it again at the next heartbeat.
 *
 * Act as requester: `findEntries` / `findProvider` ask the directory,
 * optionally waiting (bounded) until a provider appears; `ServiceClient`
 * sends requests to a provider of a service and fails over to another one
 * when a provider is gone (ENOTDELIVERED) or silent (ETIMEDOUT).
 */
import { InvalidArgumentError, NotFoundError, SwitchboardError } from "../errors.js";
import { realClock, type Clock, type TimerHandle } from "../connection/clock.js";
import { channels } from "../diagnostics.js";
import type { Address } from "./address.js";
import type { Connection } from "./connection.js";
import { Entry, type EntryQuery, type Params } from "./entry.js";
import { Msg } from "./msg.js";
import { VLM } from "./vlm.js";

export interface ProvideOptions {
  params?: Params | null;
  vnets?: readonly string[] | null;
  perms?: readonly string[] | null;
  /** How often to renew, ms (default 1000). */
  heartbeatMs?: number;
  /** How long each registration lives unless renewed, ms (default 3 heartbeats). */
  ttlMs?: number;
  /** Time allowed for each registration request, ms (default 1000). */
  timeoutMs?: number;
  /** Directories to register with (default: the one on the connection's router). */
  directories?: readonly Address[];
  clock?: Clock;
}

/** A registration kept alive by heartbeats; `stop()` unregisters. */
export class Provision {
  /** The error of the last renewal that failed at every directory; undefined while renewals succeed. */
  lastError: SwitchboardError | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly conn: Connection,
    readonly entry: Entry,
    private readonly directories: readonly Address[],
    private readonly o: Required<Pick<ProvideOptions, "heartbeatMs" | "ttlMs" | "timeoutMs">> & { clock: Clock },
  ) {}

  /** Registers with every directory; rejects with the last error if none accepted. */
  async register(): Promise<void> {
    const contents = { ...this.entry.toJSON(), ttlMs: this.o.ttlMs };
    const results = await Promise.allSettled(
      this.directories.map((d) => this.conn.send(new Msg(d, VLM.REGISTER_ENTRY, contents), this.o.timeoutMs)),
    );
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failures.length === results.length) {
      const reason = failures[failures.length - 1]?.reason as unknown;
      throw reason instanceof SwitchboardError ? reason : new NotFoundError("no directory to register with");
    }
  }

  /** @internal */
  start(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      if (this.stopped) return;
      this.register().then(
        () => (this.lastError = undefined),
        (error: SwitchboardError) => {
          this.lastError = error;
          // Our own connection or router is gone: nothing left to keep alive.
          if (error.code === "ESHUTDOWN") this.stopped = true;
          if (channels.renewalFailed.hasSubscribers) {
            channels.renewalFailed.publish({ addr: this.conn.addr.toString(), service: this.entry.service, error });
          }
        },
      ).finally(() => this.start());
    }, this.o.heartbeatMs);
  }

  /** Stops renewing and unregisters (best effort: a directory that cannot be reached lets the entry expire). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    const contents = { addr: this.entry.addr.toJSON(), service: this.entry.service };
    await Promise.allSettled(
      this.directories.map((d) => this.conn.send(new Msg(d, VLM.UNREGISTER_ENTRY, contents), this.o.timeoutMs)),
    );
  }
}

/** Registers `conn` as a provider of `service` and keeps the registration alive until `stop()`. */
export async function provide(conn: Connection, service: string, options: ProvideOptions = {}): Promise<Provision> {
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const o = {
    heartbeatMs,
    ttlMs: options.ttlMs ?? heartbeatMs * 3,
    timeoutMs: options.timeoutMs ?? 1_000,
    clock: options.clock ?? realClock,
  };
  for (const [name, v] of Object.entries(o)) {
    if (name !== "clock" && (!Number.isInteger(v) || (v as number) <= 0)) throw new InvalidArgumentError(`${name} must be a positive integer`);
  }
  if (o.ttlMs <= o.heartbeatMs) throw new InvalidArgumentError("ttlMs must be longer than heartbeatMs, or the entry expires between renewals");
  const entry = new Entry(conn.addr, service, options.params ?? null, options.vnets ?? null, options.perms ?? null);
  const directories = options.directories ?? [conn.directoryAddr];
  if (directories.length === 0) throw new InvalidArgumentError("directories must not be empty");
  const provision = new Provision(conn, entry, directories, o);
  await provision.register();
  provision.start();
  return provision;
}

export interface FindOptions {
  /** Keep asking until an entry appears, up to this long, ms (default 0: ask once). */
  waitMs?: number;
  /** Between attempts while waiting, ms (default 100). */
  pollMs?: number;
  /** Time allowed for each directory request, ms (default 1000). */
  timeoutMs?: number;
  /** The directory to ask (default: the one on the connection's router). */
  directory?: Address;
  clock?: Clock;
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms, true));
}

/**
 * The entries answering `query`. With `waitMs`, asks again every `pollMs`
 * until there is at least one or the wait is over (then resolves []); a
 * directory that cannot be asked rejects with its coded error once the
 * wait is over.
 */
export async function findEntries(conn: Connection, query: EntryQuery | string, options: FindOptions = {}): Promise<Entry[]> {
  const q: EntryQuery = typeof query === "string" ? { service: query } : query;
  const clock = options.clock ?? realClock;
  const waitMs = options.waitMs ?? 0;
  const until = clock.now() + waitMs;
  const directory = options.directory ?? conn.directoryAddr;
  for (;;) {
    let failure: unknown;
    try {
      const reply = await conn.send<unknown[]>(new Msg(directory, VLM.GET_ENTRIES, q), options.timeoutMs ?? 1_000);
      const found = (reply.contents ?? []).map((e) => Entry.fromJSON(e));
      if (found.length > 0) return found;
    } catch (error) {
      failure = error;
    }
    const left = until - clock.now();
    if (left <= 0) {
      if (failure !== undefined) throw failure;
      return [];
    }
    await sleep(clock, Math.min(options.pollMs ?? 100, left));
  }
}

/** The address of one provider of `query` (the first the directory lists); ENOENT if none appeared within `waitMs`. */
export async function findProvider(conn: Connection, query: EntryQuery | string, options: FindOptions = {}): Promise<Address> {
  const [entry] = await findEntries(conn, query, options);
  if (!entry) {
    const service = typeof query === "string" ? query : query.service;
    throw new NotFoundError(`no provider of ${service}${options.waitMs ? ` appeared within ${options.waitMs} ms` : ""}`);
  }
  return entry.addr;
}

export interface ServiceClientOptions extends FindOptions {
  /** Time allowed for each request to a provider, ms (default 1000). */
  requestTimeoutMs?: number;
  /** Providers tried per request before giving up (default 3). */
  attempts?: number;
  /** Whether a provider that timed out is given up for another (default true: make handlers idempotent, or turn it off). */
  retryOnTimeout?: boolean;
}

/**
 * Requests to whichever provider of a service is alive. A provider that is
 * gone (ENOTDELIVERED) or, by default, silent (ETIMEDOUT) is set aside
 * until the directory stops listing it, and the request goes to the next;
 * the outcome is the reply, the application's own error (EREMOTE,
 * EDOESNOTUNDERSTAND: not retried), or the last failure once `attempts`
 * providers failed, or ENOENT when there is no provider at all.
 */
export class ServiceClient {
  private providers: Address[] = [];
  private readonly setAside = new Set<string>();

  constructor(
    private readonly conn: Connection,
    private readonly query: EntryQuery | string,
    private readonly options: ServiceClientOptions = {},
  ) {}

  /** The provider the next request goes to, if known. */
  get provider(): Address | undefined {
    return this.providers[0];
  }

  async request<R = unknown>(subject: string, contents?: unknown): Promise<Msg<R>> {
    const attempts = this.options.attempts ?? 3;
    let last: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const to = await this.next();
      try {
        return await this.conn.send<R>(new Msg(to, subject, contents), this.options.requestTimeoutMs ?? 1_000);
      } catch (error) {
        const code = (error as SwitchboardError).code;
        const failover = code === "ENOTDELIVERED" || (code === "ETIMEDOUT" && this.options.retryOnTimeout !== false);
        if (!failover) throw error;
        last = error;
        this.setAside.add(to.toString());
        this.providers = this.providers.filter((p) => !p.equals(to));
      }
    }
    throw last;
  }

  private async next(): Promise<Address> {
    if (this.providers.length === 0) {
      const found = await findEntries(this.conn, this.query, this.options);
      const listed = new Set(found.map((e) => e.addr.toString()));
      for (const key of this.setAside) if (!listed.has(key)) this.setAside.delete(key); // the directory forgot it too
      this.providers = found.map((e) => e.addr).filter((a) => !this.setAside.has(a.toString()));
    }
    const to = this.providers[0];
    if (!to) {
      const service = typeof this.query === "string" ? this.query : this.query.service;
      throw new NotFoundError(`no live provider of ${service}`);
    }
    return to;
  }
}
