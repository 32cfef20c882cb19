/**
 * Fair-queued receive across peers (RFC 28/30): pipes with waiting messages
 * take turns, one message each, so a chatty peer cannot starve the others.
 */
import { Queue } from "../util/queue.js";
import type { Pipe } from "./pipe.js";

export class FairQueue {
  private readonly active = new Queue<Pipe>();
  private readonly queued = new Set<Pipe>();

  /** Queues an inbound message on its pipe and gives the pipe a turn. */
  push(pipe: Pipe, frames: Buffer[]): void {
    pipe.queueInbound(frames);
    if (!this.queued.has(pipe)) {
      this.queued.add(pipe);
      this.active.push(pipe);
    }
  }

  /** Takes the next message in turn, with the pipe it came from. */
  next(): { pipe: Pipe; frames: Buffer[] } | undefined {
    for (;;) {
      const pipe = this.active.shift();
      if (!pipe) return undefined;
      const frames = pipe.take();
      if (pipe.inbox.length > 0) {
        this.active.push(pipe);
      } else {
        this.queued.delete(pipe);
      }
      if (frames) return { pipe, frames };
    }
  }

  /** Like next(), but only from `pipe` (REQ reads only from the peer it asked); others keep their turn. */
  nextFrom(pipe: Pipe): Buffer[] | undefined {
    return pipe.take();
  }

  get size(): number {
    return this.queued.size;
  }
}
