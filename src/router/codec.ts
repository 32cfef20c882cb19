/**
 * Msg <-> MessagePack, the form a Msg takes between processes and machines
 * (docs/protocols/router.md will give the frame layout around it). A Msg is
 * one MessagePack map with these keys, in this order, optional ones left
 * out when absent:
 *
 * | key | type | |
 * |---|---|---|
 * | "to" | [uint, uint, uint] | machineId, routerId, connectionId |
 * | "from" | [uint, uint, uint] | optional: the sender (reply-to) |
 * | "subject" | str | |
 * | "id" | uint | set by the sending connection |
 * | "replyId" | uint | optional: the id of the message answered |
 * | "meta" | map | optional |
 * | "contents" | any | optional |
 *
 * Decoding validates every field and throws InvalidArgumentError (EINVAL)
 * for anything else, so bad input from a peer is a coded error.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { InvalidArgumentError } from "../errors.js";
import { Address } from "./address.js";
import { Msg } from "./msg.js";

// One encoder and decoder for the module: creating them per message costs
// more than the encoding itself.
const encoder = new Encoder();
const decoder = new Decoder();

export function encodeMsg(msg: Msg): Uint8Array {
  const wire: Record<string, unknown> = { to: msg.to.toJSON() };
  if (msg.from) wire.from = msg.from.toJSON();
  wire.subject = msg.subject;
  wire.id = msg.id;
  if (msg.replyId !== undefined) wire.replyId = msg.replyId;
  if (msg.meta !== undefined) wire.meta = msg.meta;
  if (msg.contents !== undefined) wire.contents = msg.contents;
  return encoder.encode(wire);
}

export function decodeMsg(bytes: Uint8Array, maxBytes = 64 * 1024 * 1024): Msg {
  if (bytes.length > maxBytes) throw new InvalidArgumentError(`message of ${bytes.length} bytes exceeds ${maxBytes}`);
  let wire: unknown;
  try {
    wire = decoder.decode(bytes);
  } catch (error) {
    throw new InvalidArgumentError(`not MessagePack: ${(error as Error).message}`, { cause: error });
  }
  if (typeof wire !== "object" || wire === null || Array.isArray(wire) || wire instanceof Uint8Array) {
    throw new InvalidArgumentError("a Msg is a MessagePack map");
  }
  const w = wire as Record<string, unknown>;
  if (typeof w.subject !== "string") throw new InvalidArgumentError("Msg subject must be a string");
  if (!isId(w.id)) throw new InvalidArgumentError("Msg id must be an unsigned integer");
  if (w.replyId !== undefined && !isId(w.replyId)) throw new InvalidArgumentError("Msg replyId must be an unsigned integer");
  if (w.meta !== undefined && (typeof w.meta !== "object" || w.meta === null || Array.isArray(w.meta))) {
    throw new InvalidArgumentError("Msg meta must be a map");
  }
  const options: ConstructorParameters<typeof Msg>[3] = { id: w.id };
  if (w.from !== undefined) options.from = Address.fromJSON(w.from);
  if (w.replyId !== undefined) options.replyId = w.replyId as number;
  if (w.meta !== undefined) options.meta = w.meta as Record<string, unknown>;
  return new Msg(Address.fromJSON(w.to), w.subject, w.contents, options);
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER;
}
