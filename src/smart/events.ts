/**
 * What a smart Socket tells its `events` listeners. Every event concerns
 * one connection, except `close`. There is deliberately no "error" event:
 * a misbehaving peer must never be able to throw in the application.
 */
import type { ProtocolError, SwitchboardError } from "../errors.js";

export type Role = "bind" | "connect";

/** A connection that completed its HELLO exchange. */
export interface PeerInfo {
  /** The peer socket's 16-byte identity. */
  identity: Buffer;
  /** The endpoint: the one connected to, or the bound one a peer came in on. */
  address: string;
  role: Role;
}

export interface SocketEvents {
  /** A connection completed its HELLO exchange; messages flow from now on. */
  connect: [PeerInfo];
  /** A connection that had completed its HELLO exchange closed; `error` says why when it was not a clean close. */
  disconnect: [PeerInfo & { error: SwitchboardError | undefined }];
  /** A connection was refused because a connection with its identity is already up (the old one is kept), or because the peer is this socket itself. */
  reject: [PeerInfo & { error: ProtocolError }];
  /** A connection was closed because its peer broke the protocol or went silent (also seen on disconnect when it was up). */
  "protocol-error": [{ address: string; role: Role; error: ProtocolError }];
  /** close() finished. */
  close: [];
}
