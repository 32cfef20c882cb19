/**
 * Constants of the ZMTP 3.x wire format (RFC 23, RFC 37). Pure data.
 */

/** Frame flag: more frames of this message follow. */
export const FLAG_MORE = 0x01;
/** Frame flag: the size field is 8 bytes (big-endian), else 1 byte. */
export const FLAG_LONG = 0x02;
/** Frame flag: the frame is a command. */
export const FLAG_COMMAND = 0x04;

/** The greeting is always exactly 64 bytes. */
export const GREETING_SIZE = 64;
/** We announce ZMTP 3.1. */
export const VERSION_MAJOR = 3;
export const VERSION_MINOR = 1;

/**
 * Default limit on one inbound frame (libzmq checks ZMQ_MAXMSGSIZE per frame).
 * libzmq's default is "no limit"; ours is bounded so a hostile size field
 * cannot make us buffer without end. Raise it with `maxMessageSize`.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

/** The socket types of ZMTP, as announced in the `Socket-Type` property. */
export type SocketType =
  | "PAIR" | "PUB" | "SUB" | "REQ" | "REP" | "DEALER" | "ROUTER" | "PULL" | "PUSH" | "XPUB" | "XSUB";

export const SOCKET_TYPES: readonly SocketType[] = [
  "PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB",
];

/** Which peer types each socket type may talk to (digest §2.8; libzmq enforces exactly this). */
export const COMPATIBLE_PEERS: Readonly<Record<SocketType, readonly SocketType[]>> = {
  PAIR: ["PAIR"],
  PUB: ["SUB", "XSUB"],
  XPUB: ["SUB", "XSUB"],
  SUB: ["PUB", "XPUB"],
  XSUB: ["PUB", "XPUB"],
  REQ: ["REP", "ROUTER"],
  REP: ["REQ", "DEALER"],
  DEALER: ["REP", "DEALER", "ROUTER"],
  ROUTER: ["REQ", "DEALER", "ROUTER"],
  PUSH: ["PULL"],
  PULL: ["PUSH"],
};

/** Socket types that send the `Identity` property (libzmq sends it, even empty, for these). */
export const SENDS_IDENTITY: ReadonlySet<SocketType> = new Set<SocketType>(["REQ", "DEALER", "ROUTER"]);

export function isCompatible(local: SocketType, peer: string): boolean {
  return (COMPATIBLE_PEERS[local] as readonly string[]).includes(peer);
}
