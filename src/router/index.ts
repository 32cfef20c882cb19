/** Agents on routers, addressed by (machine, router, connection): the VLMessaging model. */
export { Address, DIRECTORY_CONNECTION_ID } from "./address.js";
export { Msg, type MsgOptions } from "./msg.js";
export { encodeMsg, decodeMsg } from "./codec.js";
export { VLM, type RouterMode, type HandlerInstruction } from "./vlm.js";
export { Connection, type MsgHandler } from "./connection.js";
export { Router, type RouterOptions } from "./router.js";
export { Entry, matches, type EntryQuery, type Params } from "./entry.js";
export { Directory, registerEntry, getEntries, type DirectoryOptions } from "./directory.js";
