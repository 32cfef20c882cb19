export { Socket, type ConstructorOptions } from "./socket.js";
export { Observer, type Event, type EventType, type EventOfType } from "./events.js";
export type { MessageLike, Message } from "./message.js";
export type { CoreOptions } from "./options.js";
export type { SocketOptions } from "./patterns/types.js";
export { Push, Pull } from "./patterns/pipeline.js";
export { Pair } from "./patterns/pair.js";
export { Dealer, Router, type RouterConnectOptions, type RouterOptions } from "./patterns/dealer-router.js";
export { Request, Reply, type RequestOptions } from "./patterns/req-rep.js";
export {
  Publisher, XPublisher, Subscriber, XSubscriber, type PublisherOptions, type XPublisherVerbosity,
} from "./patterns/pub-sub.js";
