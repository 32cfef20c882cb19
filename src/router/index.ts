/** Agents on routers, addressed by (machine, router, connection): the VLMessaging model. */
export { Address, DIRECTORY_CONNECTION_ID } from "./address.js";
export { Msg, type MsgOptions } from "./msg.js";
export { encodeMsg, decodeMsg } from "./codec.js";
export { VLM, type RouterMode, type HandlerInstruction } from "./vlm.js";
export { Connection, type MsgHandler } from "./connection.js";
export { Router, defaultMachineId, type RouterOptions, type LinkOptions } from "./router.js";
export type { PeerLink, LinkScope, Hello } from "./peer-link.js";
export { provide, Provision, findEntries, findProvider, ServiceClient, type ProvideOptions, type FindOptions, type ServiceClientOptions } from "./discovery.js";
export { Entry, matches, type EntryQuery, type Params } from "./entry.js";
export { Directory, registerEntry, getEntries, type DirectoryOptions } from "./directory.js";
