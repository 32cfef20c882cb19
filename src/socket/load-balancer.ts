/**
 * Round-robin send across peers (RFC 28/30): each message goes to the next
 * peer that has room below its send high-water mark; when none has room,
 * the caller waits.
 */
import type { FrameFill } from "../wire/encoder.js";
import type { Pipe } from "./pipe.js";

export class LoadBalancer {
  private readonly pipes: Pipe[] = [];
  private cursor = 0;

  add(pipe: Pipe): void {
    this.pipes.push(pipe);
  }

  remove(pipe: Pipe): void {
    const index = this.pipes.indexOf(pipe);
    if (index < 0) return;
    this.pipes.splice(index, 1);
    if (this.cursor > index) this.cursor--;
    if (this.cursor >= this.pipes.length) this.cursor = 0;
  }

  get size(): number {
    return this.pipes.length;
  }

  /** Whether some peer has room below its high-water mark. */
  hasRoom(): boolean {
    return this.pipes.some((pipe) => pipe.hasRoom);
  }

  /**
   * Writes a one-frame message filled in place into the next pipe in turn,
   * if that pipe can take it at once (Pipe.trySendWith); false otherwise,
   * and then the caller sends the message the usual way.
   */
  sendWith(size: number, fill: FrameFill): boolean {
    const count = this.pipes.length;
    if (count === 0) return false;
    const index = this.cursor % count;
    if (!this.pipes[index]!.trySendWith(size, fill)) return false;
    this.cursor = (index + 1) % count;
    return true;
  }

  /** Sends to the next pipe with room; returns it, or undefined when all are full. */
  send(frames: Buffer[]): Pipe | undefined {
    const pipes = this.pipes;
    const count = pipes.length;
    for (let i = 0; i < count; i++) {
      const index = (this.cursor + i) % count;
      const pipe = pipes[index]!;
      if (pipe.trySend(frames)) {
        this.cursor = (index + 1) % count;
        return pipe;
      }
    }
    return undefined;
  }
}
