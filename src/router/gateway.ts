/**
 * The machine's inter-machine router (VLMessaging's LocalInterMachineRouter).
 * In NETWORK mode, the first router of a machine with network links claims
 * a well-known ipc endpoint; the machine's other routers, which have no
 * network links of their own, send messages for other machines there, and
 * the gateway routes them on over its links.
 *
 * ```
 *   machine 1                                           machine 2
 *   router A ──ipc──▶ gateway G (hub links) ══tcp══▶ hub H ──ipc──▶ router B
 * ```
 *
 * Only one router per machine holds the endpoint; a second router with
 * network links simply routes its own traffic.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pull } from "../socket/index.js";
import { decodeMsg } from "./codec.js";
import type { Msg } from "./msg.js";

/** The ipc endpoint of machine `machineId`'s gateway. */
export function gatewayEndpoint(machineId: number): string {
  const name = `switchboard-vlm-${machineId}-gateway`;
  return process.platform === "linux" ? `ipc://@${name}` : `ipc://${join(tmpdir(), `${name}.sock`)}`;
}

export interface GatewayHost {
  arrived(msg: Msg): void;
  malformed(error: unknown): void;
}

export class Gateway {
  private readonly socket = new Pull();
  /** Resolves true if this router became the gateway, false if another router holds the endpoint. */
  readonly claimed: Promise<boolean>;

  constructor(machineId: number, private readonly host: GatewayHost) {
    this.claimed = this.socket.bind(gatewayEndpoint(machineId)).then(
      () => {
        void this.receive();
        return true;
      },
      () => {
        this.socket.close();
        return false;
      },
    );
  }

  close(): void {
    this.socket.close();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [bytes] of this.socket) {
        if (!bytes) continue;
        let msg: Msg;
        try {
          msg = decodeMsg(bytes);
        } catch (error) {
          this.host.malformed(error);
          continue;
        }
        this.host.arrived(msg);
      }
    } catch {
      // The socket closed.
    }
  }
}
