/**
 * The Directory: a router's well-known connection (connection id 1) that
 * keeps entries of who provides which responsibility, and answers queries.
 *
 * | subject | contents | reply contents |
 * |---|---|---|
 * | REGISTER_ENTRY | an entry (Entry.toJSON form) | null |
 * | UNREGISTER_ENTRY | { addr, service } | { removed: boolean } |
 * | GET_ENTRIES | { service, params?, vnet?, perms? } | entries, each in Entry.toJSON form |
 *
 * This release keeps the entries of one router. Hubs (hubListen, hubs,
 * netListen, netHubs), replication per vnet, heartbeats and expiry come
 * next: those options are refused with ENOTSUP rather than ignored.
 */
import { NotSupportedError } from "../errors.js";
import type { Connection } from "./connection.js";
import { Address } from "./address.js";
import { Entry, matches, type EntryQuery } from "./entry.js";
import { Msg } from "./msg.js";
import type { Router } from "./router.js";
import { VLM, type HandlerInstruction } from "./vlm.js";

export interface DirectoryOptions {
  /** The vnets this directory serves (informational until hubs replicate per vnet). */
  vnets?: readonly string[];
  hubListen?: string;
  hubs?: readonly string[];
  netListen?: string;
  netHubs?: readonly string[];
}

export class Directory {
  private readonly entries = new Map<string, Entry>();
  readonly conn: Connection;
  readonly vnets: readonly string[];

  constructor(readonly router: Router, options: DirectoryOptions = {}) {
    for (const name of ["hubListen", "hubs", "netListen", "netHubs"] as const) {
      if (options[name] !== undefined) throw new NotSupportedError(`Directory option ${name} is not available yet`);
    }
    this.vnets = options.vnets ?? [VLM.LOCAL_VNET];
    this.conn = router.newDirectoryConnection((msg) => this.handle(msg));
  }

  /** The entries this directory holds. */
  get size(): number {
    return this.entries.size;
  }

  private async handle(msg: Msg): Promise<void | readonly HandlerInstruction[]> {
    switch (msg.subject) {
      case VLM.REGISTER_ENTRY: {
        const entry = msg.contents instanceof Entry ? msg.contents : Entry.fromJSON(msg.contents);
        this.entries.set(entry.key, entry);
        return void (await this.conn.send(msg.reply(null)));
      }
      case VLM.UNREGISTER_ENTRY: {
        const c = (msg.contents ?? {}) as { addr?: unknown; service?: unknown };
        const addr = c.addr instanceof Address ? c.addr : Address.fromJSON(c.addr);
        const removed = this.entries.delete(`${addr.toString()}/${String(c.service)}`);
        return void (await this.conn.send(msg.reply({ removed })));
      }
      case VLM.GET_ENTRIES: {
        const query = (msg.contents ?? {}) as EntryQuery;
        const found = [...this.entries.values()].filter((e) => matches(e, query)).map((e) => e.toJSON());
        return void (await this.conn.send(msg.reply(found)));
      }
      default:
        return [VLM.IGNORE_UNHANDLED_REPLIES, VLM.HANDLE_PING, VLM.HANDLE_DOES_NOT_UNDERSTAND];
    }
  }
}

/** Registers `entry` with the directory of `conn`'s router; rejects with the request's coded error. */
export async function registerEntry(conn: Connection, entry: Entry, timeoutMs: number): Promise<void> {
  await conn.send(new Msg(conn.directoryAddr, VLM.REGISTER_ENTRY, entry.toJSON()), timeoutMs);
}

/** Asks the directory of `conn`'s router for entries answering `query`. */
export async function getEntries(conn: Connection, query: EntryQuery, timeoutMs: number): Promise<Entry[]> {
  const reply = await conn.send<unknown[]>(new Msg(conn.directoryAddr, VLM.GET_ENTRIES, query), timeoutMs);
  return (reply.contents ?? []).map((e) => Entry.fromJSON(e));
}
