/**
 * The smart Socket (aiomsg protocol v1): one socket class that binds and
 * connects many times, publishes, round-robins or sends by identity,
 * reconnects, heartbeats, and offers at-least-once delivery.
 * See docs/smart-socket.md.
 */
export { Socket } from "./socket.js";
export type { CloseOptions, MessageData, PeerInfo, Role, SendOptions, SocketEvents } from "./socket.js";
export { defaultReconnectDelay, randomIdentity } from "./options.js";
export type { Delivery, SendMode, SocketOptions } from "./options.js";
export { registerScheme, tcpBind, tcpConnect } from "./transport.js";
export { tlsBind, tlsConnect, withWebSocket, type WebSocketBindOptions } from "./secure.js";
export type { BindTarget, ConnectTarget, Scheme, SmartListener } from "./transport.js";
export {
  DEFAULT_MAX_FRAME_SIZE, FrameDecoder, IDENTITY_LENGTH, MESSAGE_ID_LENGTH, PROTOCOL_VERSION,
  TYPE_ACK, TYPE_DATA, TYPE_DATA_REQ, TYPE_HEARTBEAT, TYPE_HELLO,
  encodeAck, encodeData, encodeDataReq, encodeFrame, encodeHeartbeat, encodeHello, parseEnvelope,
} from "./wire.js";
export type { Envelope, Frame } from "./wire.js";
