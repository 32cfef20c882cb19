/**
 * Fair-queued receive across peers (RFC 28/30): pipes with waiting messages
 * take turns, one message each, so a chatty peer cannot starve the others.
 *
 * The pipes with waiting messages sit in a ring; a cursor walks it. This
 * costs nothing per message beyond the pipe's own queue when one peer is
 * busy, which is the hot case.
 */
import type { Pipe } from "./pipe.js";

export class FairQueue {
  private ring: Pipe[] = [];
  private cursor = 0;
  /** The pipe the last message came from. */
  lastPipe: Pipe | undefined;

  /** Queues an inbound message on its pipe and gives the pipe a turn. */
  push(pipe: Pipe, frames: Buffer[]): void {
    pipe.queueInbound(frames);
    if (!pipe.inRing) {
      pipe.inRing = true;
      this.ring.push(pipe);
    }
  }

  /** Takes the next message in turn; `lastPipe` tells where it came from. */
  next(): Buffer[] | undefined {
    const ring = this.ring;
    while (ring.length > 0) {
      if (this.cursor >= ring.length) this.cursor = 0;
      const pipe = ring[this.cursor]!;
      const frames = pipe.take();
      if (pipe.inbox.length === 0) {
        pipe.inRing = false;
        ring.splice(this.cursor, 1);
      } else if (ring.length > 1) {
        this.cursor++;
      }
      if (frames) {
        this.lastPipe = pipe;
        return frames;
      }
    }
    return undefined;
  }

  get size(): number {
    return this.ring.length;
  }
}
