/**
 * Switchboard: lightweight, brokerless messaging for TypeScript.
 *
 * Layout (each layer imports only from the ones above it in this list):
 * - wire/        bytes <-> ZMTP frames; pure, no I/O
 * - transport/   tcp, ipc and inproc endpoints
 * - connection/  one peer link: handshake, heartbeats, batching, back-pressure
 * - socket/      the ZeroMQ patterns with the zeromq.js v6 API
 *
 * This file is the one public entry point.
 */
export * from "./socket/index.js";
export * from "./errors.js";
export { channels as diagnosticsChannels } from "./diagnostics.js";
export type { Clock } from "./connection/clock.js";

/** The ZMTP version Switchboard speaks. */
export const version = "3.1";
/**
 * The VLMessaging model (agents on routers, Msg, Address, VLM, directory),
 * as a namespace: its `Router` is not the ZeroMQ Router socket.
 * `import { messaging } from "switchboard"; const router = new messaging.Router();`
 */
export * as messaging from "./router/index.js";
/**
 * The smart Socket (aiomsg protocol v1), as a namespace; its Socket is also
 * exported as SmartSocket (the bare name Socket is the ZeroMQ base class).
 * `import { SmartSocket } from "switchboard"; const sock = new SmartSocket();`
 */
export * as smart from "./smart/index.js";
export { Socket as SmartSocket } from "./smart/index.js";
