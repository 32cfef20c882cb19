/**
 * A peer link over a MessagePort: routers in different threads of one
 * process, without going through the operating system. Each message is
 * posted as its encoded bytes (the same encoding as every other link), so
 * what an agent sends is copied once and handlers on both sides see plain
 * values, as they would across processes.
 *
 * ```
 *   main thread                              worker thread
 *   router.linkPort(port1) ◀── MessagePort ──▶ router.linkPort(port2)
 * ```
 *
 * Both ends say hello at once. The link goes down when either side closes
 * its port or its thread ends.
 */
import type { MessagePort } from "node:worker_threads";
import { InvalidArgumentError } from "../errors.js";
import { encodeMsg } from "./codec.js";
import type { Msg } from "./msg.js";
import { helloMsg, LinkBase, type PeerLinkHost } from "./peer-link.js";

export class PortLink extends LinkBase {
  readonly scope = "machine" as const;
  readonly name: string;
  private closed = false;

  constructor(
    private readonly port: MessagePort,
    host: PeerLinkHost,
    /** True on the side that should use this link as its way to the rest of the process (a worker). */
    readonly dialed: boolean,
  ) {
    super(host);
    this.name = dialed ? "MessagePort (to parent)" : "MessagePort";
    port.on("message", this.onMessage);
    port.on("close", this.onClose);
    this.sendHello();
  }

  send(msg: Msg): boolean {
    if (!this.peer || this.closed) return false;
    this.port.postMessage(encodeMsg(msg));
    return true;
  }

  sendHello(): void {
    if (!this.closed) this.port.postMessage(encodeMsg(helloMsg(this.host.hello())));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.off("message", this.onMessage);
    this.port.off("close", this.onClose);
    this.port.close();
    this.lost();
  }

  private readonly onClose = (): void => {
    this.closed = true;
    this.lost();
  };

  private readonly onMessage = (data: unknown): void => {
    if (data instanceof Uint8Array) this.receiveBytes(data);
    else this.host.malformed(new InvalidArgumentError("a MessagePort link carries encoded messages (Uint8Array)"), this);
  };
}
