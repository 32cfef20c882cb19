import type { ConstructorOptions, Socket } from "../socket.js";

type Settable<S> = {
  [K in keyof S as S[K] extends (...args: never[]) => unknown ? never : K]?: S[K];
};

type NotOptions =
  | "events" | "closed" | "readable" | "writable" | "lastEndpoint" | "type"
  | "options" | "endpoints" | "clock" | "pipes" | "socketType";

/** Options a socket constructor accepts: every settable option property of the class, plus an injected clock. */
export type SocketOptions<S extends Socket> = Omit<Settable<S>, NotOptions> & ConstructorOptions;
