/**
 * The sockets under attack: a Pull (tcp and ipc), a Router, a Publisher and
 * a Reply, each bound with a small maxMessageSize and a manual clock, each
 * with a well-behaved Switchboard peer connected, and everything they report
 * (events, diagnostics, messages from other peers) recorded per endpoint.
 */
import assert from "node:assert/strict";
import diagnostics_channel from "node:diagnostics_channel";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Dealer, Publisher, Pull, Push, Reply, Request, Router, Subscriber,
  type Event, type Socket, type SwitchboardError,
} from "../../src/index.js";
import type { ManualClock } from "./raw-peer.js";
import type { TargetType } from "./model.js";

export const MAX_MESSAGE_SIZE = 64 * 1024;
/** Handshake deadline on the manual clock (fake milliseconds). */
export const HANDSHAKE_INTERVAL = 1000;
/** The routing id of the good Dealer: a hostile peer that claims it must be refused. */
export const GOOD_ID = Buffer.from("good-dealer");
/** First frame of every good-peer message; hostile streams cannot produce it by chance. */
const MARK = Buffer.from(`good-peer-${process.pid}-${Date.now()}`);

export type TargetName = "pull" | "pull-ipc" | "router" | "pub" | "rep";
export const TARGET_NAMES: readonly TargetName[] = ["pull", "pull-ipc", "router", "pub", "rep"];

const WATCHED = ["accept", "handshake", "handshake:error:protocol", "handshake:error:other", "disconnect"] as const;

export interface Observed {
  type: string;
  error: SwitchboardError | undefined;
}

export interface Published {
  socketType: string;
  address: string;
  error: unknown;
}

/** One bound endpoint and what happened on it since the last reset. */
export class Target {
  events: Observed[] = [];
  published: Published[] = [];
  private acceptWaiters: Array<() => void> = [];

  constructor(
    readonly name: TargetName,
    readonly type: TargetType,
    readonly socket: Socket,
    readonly endpoint: string,
    readonly roundTrip: () => Promise<void>,
    /** Shared by the endpoints of one socket, since they share its message stream. */
    private readonly inbox: Inbox,
  ) {}

  /** Messages the application received from peers other than the good one. */
  get hostile(): Buffer[][] {
    return this.inbox.messages;
  }

  reset(): void {
    this.events = [];
    this.published = [];
    this.inbox.messages = [];
  }

  /** Resolves at the next accepted connection (its handshake timer is armed by then). */
  nextAccept(): Promise<void> {
    return new Promise((resolve) => this.acceptWaiters.push(resolve));
  }

  /** @internal */
  record(event: Observed): void {
    this.events.push(event);
    if (event.type === "accept") this.acceptWaiters.shift()?.();
  }
}

interface Inbox {
  messages: Buffer[][];
}

function isMark(frames: Buffer[]): boolean {
  return frames[0]?.equals(MARK) === true;
}

function once(socket: Socket, type: "handshake", address: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (e: { address: string }): void => {
      if (e.address !== address) return;
      socket.events.off(type, listener);
      resolve();
    };
    socket.events.on(type, listener);
  });
}

/** Runs a receive loop; it ends quietly when the socket closes, and any other failure surfaces as a rejection. */
function readLoop(socket: Socket & AsyncIterable<Buffer[]>, onMessage: (frames: Buffer[]) => Promise<void> | void): void {
  void (async () => {
    for await (const frames of socket) await onMessage(frames);
  })().catch((error: unknown) => {
    if (!socket.closed) throw error;
  });
}

export class Targets {
  private readonly byName = new Map<TargetName, Target>();
  private readonly byAddress = new Map<string, Target>();
  private readonly sockets: Socket[] = [];
  /** Disconnects seen by the good peers: there must be none. */
  readonly goodPeerTrouble: string[] = [];
  private readonly ipcPath = join(tmpdir(), `switchboard-fuzz-${process.pid}-${Date.now()}.sock`);
  private readonly onPublish = (message: unknown): void => {
    const m = message as Published;
    this.byAddress.get(m.address)?.published.push(m);
  };
  private seq = 0;

  private constructor(private readonly clock: ManualClock) {}

  static async open(clock: ManualClock): Promise<Targets> {
    const targets = new Targets(clock);
    diagnostics_channel.subscribe("switchboard:connection:protocol-error", targets.onPublish);
    await targets.openPull();
    await targets.openRouter();
    await targets.openPublisher();
    await targets.openReply();
    return targets;
  }

  get(name: TargetName): Target {
    return this.byName.get(name)!;
  }

  /** Closes every socket (again: a no-op). Their handles go away over the next event-loop turns. */
  close(): void {
    diagnostics_channel.unsubscribe("switchboard:connection:protocol-error", this.onPublish);
    for (const socket of this.sockets) socket.close();
    rmSync(this.ipcPath, { force: true });
  }

  private options() {
    return { clock: this.clock, maxMessageSize: MAX_MESSAGE_SIZE, handshakeInterval: HANDSHAKE_INTERVAL, linger: 0 };
  }

  private watch(socket: Socket): void {
    this.sockets.push(socket);
    for (const type of WATCHED) {
      socket.events.on(type, (e: Event) => {
        const address = (e as { address?: string }).address ?? "";
        const error = (e as { error?: SwitchboardError }).error;
        this.byAddress.get(address)?.record({ type, error });
      });
    }
  }

  private goodPeer<S extends Socket>(socket: S, name: string): S {
    this.sockets.push(socket);
    socket.events.on("disconnect", (e) => this.goodPeerTrouble.push(`${name}: disconnect ${e.error?.code ?? ""}`));
    return socket;
  }

  private add(target: Target): void {
    this.byName.set(target.name, target);
    this.byAddress.set(target.endpoint, target);
  }

  private mark(): [Buffer, Buffer] {
    return [MARK, Buffer.from(String(++this.seq))];
  }

  private async openPull(): Promise<void> {
    const pull = new Pull(this.options());
    this.watch(pull);
    await pull.bind("tcp://127.0.0.1:0");
    const tcp = pull.lastEndpoint!;
    await pull.bind(`ipc://${this.ipcPath}`);
    const ipc = pull.lastEndpoint!;
    const push = this.goodPeer(new Push({ linger: 0 }), "push");
    let waiting: { expect: Buffer; resolve(): void } | undefined;
    const inbox: Inbox = { messages: [] };
    readLoop(pull, (frames) => {
      if (!isMark(frames)) {
        inbox.messages.push(frames);
        return;
      }
      assert.ok(waiting !== undefined && frames[1]?.equals(waiting.expect), "good message out of order");
      waiting.resolve();
    });
    const roundTrip = async (): Promise<void> => {
      const message = this.mark();
      const received = new Promise<void>((resolve) => (waiting = { expect: message[1], resolve }));
      await push.send(message);
      await received;
    };
    const connected = once(pull, "handshake", tcp);
    push.connect(tcp);
    await connected;
    this.add(new Target("pull", "PULL", pull, tcp, roundTrip, inbox));
    this.add(new Target("pull-ipc", "PULL", pull, ipc, roundTrip, inbox));
  }

  private async openRouter(): Promise<void> {
    const router = new Router(this.options());
    this.watch(router);
    await router.bind("tcp://127.0.0.1:0");
    const endpoint = router.lastEndpoint!;
    const dealer = this.goodPeer(new Dealer({ routingId: GOOD_ID.toString(), linger: 0 }), "dealer");
    const inbox: Inbox = { messages: [] };
    const target = new Target("router", "ROUTER", router, endpoint, async () => {
      const message = this.mark();
      await dealer.send(message);
      assert.deepEqual(await dealer.receive(), message);
    }, inbox);
    readLoop(router, async (frames) => {
      if (frames[0]?.equals(GOOD_ID)) await router.send(frames);
      else inbox.messages.push(frames);
    });
    const connected = once(router, "handshake", endpoint);
    dealer.connect(endpoint);
    await connected;
    this.add(target);
  }

  private async openPublisher(): Promise<void> {
    const pub = new Publisher(this.options());
    this.watch(pub);
    await pub.bind("tcp://127.0.0.1:0");
    const endpoint = pub.lastEndpoint!;
    const sub = this.goodPeer(new Subscriber({ linger: 0 }), "sub");
    sub.subscribe(MARK);
    const connected = once(pub, "handshake", endpoint);
    sub.connect(endpoint);
    await connected;
    // The subscription travels after the handshake: publish a probe each turn until one arrives.
    let arrived = false;
    const first = sub.receive().then(() => (arrived = true));
    while (!arrived) {
      await pub.send([MARK, Buffer.from("probe")]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await first;
    this.add(new Target("pub", "PUB", pub, endpoint, async () => {
      const message = this.mark();
      await pub.send(message);
      for (;;) {
        const got = await sub.receive();
        if (got[1]?.toString() === "probe") continue;
        assert.deepEqual(got, message);
        return;
      }
    }, { messages: [] }));
  }

  private async openReply(): Promise<void> {
    const rep = new Reply(this.options());
    this.watch(rep);
    await rep.bind("tcp://127.0.0.1:0");
    const endpoint = rep.lastEndpoint!;
    const req = this.goodPeer(new Request({ linger: 0 }), "req");
    const inbox: Inbox = { messages: [] };
    const target = new Target("rep", "REP", rep, endpoint, async () => {
      const message = this.mark();
      await req.send(message);
      assert.deepEqual(await req.receive(), message);
    }, inbox);
    readLoop(rep, async (frames) => {
      if (!isMark(frames)) inbox.messages.push(frames);
      // Echo; a message without frames cannot be sent back, but a reply is still due.
      await rep.send(frames.length > 0 ? frames : [Buffer.alloc(0)]);
    });
    const connected = once(rep, "handshake", endpoint);
    req.connect(endpoint);
    await connected;
    this.add(target);
  }
}
