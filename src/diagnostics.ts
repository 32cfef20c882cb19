/**
 * Observability through node:diagnostics_channel. Nothing in Switchboard
 * writes to the console; subscribe to these channels instead:
 *
 * ```ts
 * import diagnostics_channel from "node:diagnostics_channel";
 * diagnostics_channel.subscribe("switchboard:connection:protocol-error", (m) => log(m));
 * ```
 *
 * | channel | message |
 * |---|---|
 * | switchboard:connection:connect | `{ socketType, address }` a dialled stream is up |
 * | switchboard:connection:accept | `{ socketType, address }` a stream was accepted |
 * | switchboard:connection:handshake | `{ socketType, address, peerType, minor }` ZMTP handshake done |
 * | switchboard:connection:disconnect | `{ socketType, address, error? }` a link went away |
 * | switchboard:connection:protocol-error | `{ socketType, address, error }` a peer broke the protocol; that link was closed |
 * | switchboard:socket:drop | `{ socketType, reason, frames }` a message was dropped by design (PUB at HWM, ROUTER to an unknown id) |
 * | switchboard:messaging:malformed | `{ router, link?, error }` a router got bytes that are not a Msg, or a directory got a bad update (dropped) |
 * | switchboard:messaging:link | `{ router, link, scope, peer, up }` a link to another router came up (`peer` is "machine:router") or went down |
 * | switchboard:messaging:renewal-failed | `{ addr, service, error }` a provider's heartbeat registration reached no directory (it keeps trying) |
 * | switchboard:smart:connect | `{ address, role, identity }` a smart Socket connection finished its HELLO exchange |
 * | switchboard:smart:disconnect | `{ address, role, identity?, error? }` a smart Socket connection closed |
 * | switchboard:smart:protocol-error | `{ address, role, error }` a smart Socket peer broke aiomsg v1; that connection was closed |
 * | switchboard:smart:reject | `{ address, role, identity, error }` a connection was refused: its identity is already connected |
 * | switchboard:smart:drop | `{ reason, count }` at-most-once messages lost with a connection they were queued on |
 */
import diagnostics_channel from "node:diagnostics_channel";

export const channels = {
  connect: diagnostics_channel.channel("switchboard:connection:connect"),
  accept: diagnostics_channel.channel("switchboard:connection:accept"),
  handshake: diagnostics_channel.channel("switchboard:connection:handshake"),
  disconnect: diagnostics_channel.channel("switchboard:connection:disconnect"),
  protocolError: diagnostics_channel.channel("switchboard:connection:protocol-error"),
  drop: diagnostics_channel.channel("switchboard:socket:drop"),
  messagingMalformed: diagnostics_channel.channel("switchboard:messaging:malformed"),
  messagingLink: diagnostics_channel.channel("switchboard:messaging:link"),
  renewalFailed: diagnostics_channel.channel("switchboard:messaging:renewal-failed"),
  smartConnect: diagnostics_channel.channel("switchboard:smart:connect"),
  smartDisconnect: diagnostics_channel.channel("switchboard:smart:disconnect"),
  smartProtocolError: diagnostics_channel.channel("switchboard:smart:protocol-error"),
  smartReject: diagnostics_channel.channel("switchboard:smart:reject"),
  smartDrop: diagnostics_channel.channel("switchboard:smart:drop"),
} as const;
