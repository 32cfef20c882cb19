/**
 * VLM constants, named as in VLMessaging: router modes, the subjects the
 * messaging layer itself uses, and the instructions a handler can return
 * for messages it does not handle.
 */
export const VLM = {
  /** Routers in this process only. */
  LOCAL_MODE: "LOCAL",
  /** Routers in any process on this machine, linked over ipc. */
  MACHINE_MODE: "MACHINE",
  /** Machines linked over tcp. */
  NETWORK_MODE: "NETWORK",

  /** The vnet of entries visible on this machine only. */
  LOCAL_VNET: "local",

  // Subjects the layer sends by itself.
  PING: "PING",
  PONG: "PONG",
  DOES_NOT_UNDERSTAND: "DOES_NOT_UNDERSTAND",
  MSG_NOT_DELIVERED: "MSG_NOT_DELIVERED",
  HANDLER_FAILED: "HANDLER_FAILED",

  /** The first message on a link between routers: who the sender is (see docs/protocols/router.md). */
  LINK_HELLO: "LINK_HELLO",
  /** Links a message may cross before routers refuse it (a routing loop ends here). */
  MAX_HOPS: 8,

  // Directory subjects.
  REGISTER_ENTRY: "REGISTER_ENTRY",
  UNREGISTER_ENTRY: "UNREGISTER_ENTRY",
  GET_ENTRIES: "GET_ENTRIES",
  /** Entries exchanged between linked directories (replication). */
  DIRECTORY_SYNC: "DIRECTORY_SYNC",

  // What a handler may return for a message it did not handle.
  /** Drop replies that arrive for no pending request. */
  IGNORE_UNHANDLED_REPLIES: "IGNORE_UNHANDLED_REPLIES",
  /** Answer PING with PONG. */
  HANDLE_PING: "HANDLE_PING",
  /** Answer anything else with DOES_NOT_UNDERSTAND. */
  HANDLE_DOES_NOT_UNDERSTAND: "HANDLE_DOES_NOT_UNDERSTAND",
} as const;

export type RouterMode = typeof VLM.LOCAL_MODE | typeof VLM.MACHINE_MODE | typeof VLM.NETWORK_MODE;

export type HandlerInstruction =
  | typeof VLM.IGNORE_UNHANDLED_REPLIES
  | typeof VLM.HANDLE_PING
  | typeof VLM.HANDLE_DOES_NOT_UNDERSTAND;
