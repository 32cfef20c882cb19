// Watches the tcp/ipc streams this process opens (node's built-in
// "net.client.socket" / "net.server.socket" diagnostics channels), so a test
// driving fake clocks on both sides of a link can wait until each side has
// read what the other just wrote, without waiting on wall-clock time.
import diagnostics_channel from "node:diagnostics_channel";
import type { Socket as NetSocket } from "node:net";

interface Watched {
  stream: NetSocket;
  chunks: number;
}

export class StreamTap {
  private readonly watched: Watched[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly onStream = (message: unknown): void => {
    const stream = (message as { socket: NetSocket }).socket;
    const entry: Watched = { stream, chunks: 0 };
    this.watched.push(entry);
    // A listener that runs before the socket's own still lets awaiting code
    // resume only after the emit, i.e. after the socket handled the chunk.
    stream.on("data", () => {
      entry.chunks++;
      for (const waiter of [...this.waiters]) waiter();
    });
  };

  constructor() {
    diagnostics_channel.subscribe("net.client.socket", this.onStream);
    diagnostics_channel.subscribe("net.server.socket", this.onStream);
  }

  /** Stops watching new streams. */
  close(): void {
    diagnostics_channel.unsubscribe("net.client.socket", this.onStream);
    diagnostics_channel.unsubscribe("net.server.socket", this.onStream);
  }

  /** The open streams seen so far. */
  get streams(): number {
    return this.live().length;
  }

  /** Chunk counts of the open streams, to pass to {@link eachReadSince}. */
  mark(): Map<NetSocket, number> {
    return new Map(this.live().map((w) => [w.stream, w.chunks]));
  }

  /** Resolves once every stream open at `mark` (and still open) has read a chunk since. */
  eachReadSince(mark: Map<NetSocket, number>): Promise<void> {
    const done = (): boolean =>
      this.live().every((w) => !mark.has(w.stream) || w.chunks > (mark.get(w.stream) ?? 0));
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  private live(): Watched[] {
    return this.watched.filter((w) => !w.stream.destroyed);
  }
}
