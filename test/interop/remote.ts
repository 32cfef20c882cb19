// Parent side of a libzmq peer running in a separate process
// (peer-process.ts), controlled over the child_process IPC channel.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { buf, within, type FrameLike, type Receiver, type Scope, type SocketKind } from "./harness.js";

export type PeerCommand =
  | { op: "open"; kind: SocketKind; options: Record<string, unknown> }
  | { op: "bind"; address: string }
  | { op: "connect"; address: string; routingId?: string }
  | { op: "send"; frames: Uint8Array[] }
  | { op: "receive" }
  | { op: "subscribe"; topic: string }
  | { op: "close" };

export type PeerRequest = PeerCommand & { id: number };

export type PeerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const PEER_SCRIPT = fileURLToPath(new URL("./peer-process.js", import.meta.url));
const PEER_FLAG = "--libzmq-interop-peer";

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** One libzmq socket in a child process. */
export class RemotePeer implements Receiver {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly exited: Promise<void>;
  private hasExited = false;
  private readonly ready: Promise<unknown>;

  private constructor(private readonly child: ChildProcess) {
    let markReady: (value: unknown) => void = () => undefined;
    this.ready = new Promise((resolve) => {
      markReady = resolve;
    });
    child.on("message", (reply: PeerReply) => {
      if (reply.id === 0) {
        markReady(null);
        return;
      }
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`libzmq peer: ${reply.error}`));
    });
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        this.hasExited = true;
        for (const waiter of this.pending.values()) waiter.reject(new Error("libzmq peer process exited"));
        this.pending.clear();
        resolve();
      });
    });
  }

  /** Forks a peer process; the scope kills it on disposal. */
  static async start(scope: Scope, timeoutMs = 10_000): Promise<RemotePeer> {
    const child = fork(PEER_SCRIPT, [PEER_FLAG], {
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      execArgv: [],
    });
    const peer = new RemotePeer(child);
    scope.defer(() => peer.kill());
    await within(
      Promise.race([peer.ready, peer.exited.then(() => Promise.reject(new Error("peer exited early")))]),
      timeoutMs,
      "libzmq peer process start",
    );
    return peer;
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error("peer process has no pid");
    return pid;
  }

  private call(command: PeerCommand): Promise<unknown> {
    if (this.hasExited) return Promise.reject(new Error("libzmq peer process exited"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...command, id } satisfies PeerRequest, (error) => {
        if (error) {
          this.pending.delete(id);
          reject(error);
        }
      });
    });
  }

  async open(kind: SocketKind, options: Record<string, unknown> = {}): Promise<void> {
    await this.call({ op: "open", kind, options });
  }

  async bind(address: string): Promise<string> {
    return String(await this.call({ op: "bind", address }));
  }

  async connect(address: string, routingId?: string): Promise<void> {
    await this.call(routingId === undefined ? { op: "connect", address } : { op: "connect", address, routingId });
  }

  async send(message: FrameLike | FrameLike[]): Promise<void> {
    const list = Array.isArray(message) ? message : [message];
    await this.call({ op: "send", frames: list.map(buf) });
  }

  async receive(): Promise<Buffer[]> {
    const result = (await this.call({ op: "receive" })) as Uint8Array[];
    return result.map(buf);
  }

  async subscribe(topic: string): Promise<void> {
    await this.call({ op: "subscribe", topic });
  }

  async close(): Promise<void> {
    await this.call({ op: "close" });
  }

  /** Freezes the process: its sockets stay open but nothing answers. */
  pause(): void {
    this.child.kill("SIGSTOP");
  }

  resume(): void {
    if (!this.hasExited) this.child.kill("SIGCONT");
  }

  /** Kills the process (even a paused one) and waits until it is gone. */
  async kill(): Promise<void> {
    if (!this.hasExited) this.child.kill("SIGKILL");
    await this.exited;
  }
}
