/** The wire layer: bytes <-> ZMTP frames. Pure: no I/O, no timers. */
export * from "./constants.js";
export * from "./greeting.js";
export * from "./decoder.js";
export * from "./encoder.js";
export * from "./commands.js";
