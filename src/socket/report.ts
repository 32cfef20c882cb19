/**
 * Where a socket reports what went wrong on one of its connections: the
 * socket's events and the diagnostics channels, in one place so that every
 * protocol error reaches both.
 */
import { ProtocolError, type SwitchboardError } from "../errors.js";
import { channels } from "../diagnostics.js";
import type { Socket } from "./socket.js";

/** A protocol error on one connection (which is closed because of it). */
export function reportProtocolError(socket: Socket, address: string, error: ProtocolError): void {
  if (channels.protocolError.hasSubscribers) {
    channels.protocolError.publish({ socketType: socket.socketType, address, error });
  }
}

/** A connection that ended before its handshake completed. */
export function reportHandshakeFailure(socket: Socket, address: string, error: SwitchboardError | undefined): void {
  if (error instanceof ProtocolError) {
    reportProtocolError(socket, address, error);
    socket.events.emit({ type: "handshake:error:protocol", address, error });
  } else if (error) {
    socket.events.emit({ type: "handshake:error:other", address, error });
  }
}
