/**
 * A peer link over a MessagePort: routers in different threads of one
 * process, without going through the operating system. Messages travel
 * encoded (the same encoding as every other link), so handlers on both
 * sides see plain values, as they would across processes. What one job
 * sends is batched into one posted buffer, transferred rather than copied:
 * each post is a Uint8Array of one or more [u32 BE length][encoded Msg].
 * A post costs microseconds; a batch of a hundred costs about the same.
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
import { encodeMsgFrame } from "./codec.js";
import type { Msg } from "./msg.js";
import { helloMsg, LinkBase, type PeerLinkHost } from "./peer-link.js";

export class PortLink extends LinkBase {
  readonly scope = "machine" as const;
  readonly name: string;
  private closed = false;
  private batch: Buffer[] = [];
  private batchBytes = 0;

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
    let bytes: Buffer;
    try {
      bytes = encodeMsgFrame(msg);
    } catch (error) {
      this.host.undeliverable(msg, `cannot encode it: ${(error as Error).message}`);
      return true;
    }
    this.queue(bytes);
    return true;
  }

  sendHello(): void {
    if (!this.closed) this.queue(encodeMsgFrame(helloMsg(this.host.hello())));
  }

  private queue(bytes: Buffer): void {
    this.batch.push(bytes);
    this.batchBytes += 4 + bytes.length;
    if (this.batch.length === 1) queueMicrotask(this.flush);
  }

  /** Posts what this job sent as one buffer, handed over (transferred) rather than copied. */
  private readonly flush = (): void => {
    const batch = this.batch;
    this.batch = [];
    if (this.closed || batch.length === 0) return;
    const out = new Uint8Array(this.batchBytes);
    this.batchBytes = 0;
    const view = new DataView(out.buffer);
    let at = 0;
    for (const bytes of batch) {
      view.setUint32(at, bytes.length);
      out.set(bytes, at + 4);
      at += 4 + bytes.length;
    }
    this.port.postMessage(out, [out.buffer]);
  };

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
    if (!(data instanceof Uint8Array)) {
      return this.host.malformed(new InvalidArgumentError("a MessagePort link carries a Uint8Array of length-prefixed messages"), this);
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let at = 0; at < data.length; ) {
      const length = at + 4 <= data.length ? view.getUint32(at) : -1;
      if (length < 0 || at + 4 + length > data.length) {
        return this.host.malformed(new InvalidArgumentError("a message on a MessagePort link runs past its post"), this);
      }
      this.receiveBytes(data.subarray(at + 4, at + 4 + length));
      at += 4 + length;
      if (this.closed) return;
    }
  };
}
