/**
 * What send() accepts, as in zeromq.js: a frame is a Buffer or any
 * ArrayBufferView (sent without copying), an ArrayBuffer, a string (UTF-8),
 * a number (its decimal text) or null (an empty frame); a message is one
 * frame or an array of frames.
 */
import { InvalidArgumentError } from "../errors.js";

export type MessageLike = ArrayBufferView | ArrayBuffer | SharedArrayBuffer | string | number | null;
export type Message = Buffer;

const EMPTY = Buffer.alloc(0);

export function toFrame(part: MessageLike): Buffer {
  if (Buffer.isBuffer(part)) return part;
  if (typeof part === "string") return Buffer.from(part, "utf8");
  if (part === null) return EMPTY;
  if (typeof part === "number") return Buffer.from(String(part), "latin1");
  if (ArrayBuffer.isView(part)) return Buffer.from(part.buffer, part.byteOffset, part.byteLength);
  if (part instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && part instanceof SharedArrayBuffer)) {
    return Buffer.from(part);
  }
  throw new InvalidArgumentError(`cannot send a value of type ${typeof part}`);
}

export function toFrames(message: MessageLike | MessageLike[]): Buffer[] {
  if (!Array.isArray(message)) return [toFrame(message)];
  if (message.length === 0) throw new InvalidArgumentError("cannot send an empty multipart message");
  const frames = new Array<Buffer>(message.length);
  for (let i = 0; i < message.length; i++) frames[i] = toFrame(message[i]!);
  return frames;
}
