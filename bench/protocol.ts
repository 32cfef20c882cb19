// Shapes exchanged between the orchestrator (run.ts) and its worker
// processes (worker.ts), and the control handle the scenarios receive.

import type { CellResult } from "./stats.js";

/** "smart" is Switchboard's SmartSocket (aiomsg protocol), measured in its own table. */
export type Impl = "raw" | "zeromq" | "switchboard" | "smart";
export type ScenarioName = "pushpull" | "reqrep" | "dealer" | "pubsub";

/**
 * Each cell runs two processes. The "server" binds (Pull, Reply, Router,
 * Subscriber) and reports its port; the "client" connects to it.
 */
export type Role = "server" | "client";

/** Passed to a worker as a single JSON argv entry. */
export interface WorkerSpec {
  impl: Impl;
  scenario: ScenarioName;
  role: Role;
  /** Payload size in bytes. */
  size: number;
  /** Messages or round trips excluded from the measurement. */
  warmup: number;
  /** Messages or round trips measured. */
  count: number;
  /** Outstanding requests for the dealer scenario. */
  inflight: number;
  /** Port of the server; set for clients only. */
  port?: number;
  /** Publisher only: wait at the high-water mark instead of dropping (ZMQ_XPUB_NODROP). */
  noDrop?: boolean;
  /** SmartSocket sender only: its delivery guarantee. */
  delivery?: "at-most-once" | "at-least-once";
}

/**
 * Worker -> parent messages. "peer" payloads are forwarded verbatim to the
 * other process of the same cell, so the parent needs no scenario knowledge.
 */
export type ToParent =
  | { type: "ready"; port: number }
  | { type: "result"; result: CellResult }
  | { type: "error"; message: string }
  | { type: "peer"; kind: PeerKind }
  | { type: "cpu"; usPerMsg: number };

/** Parent -> worker messages. */
export type ToWorker = { type: "stop" } | { type: "peer"; kind: PeerKind };

/**
 * "go": the subscriber saw a probe, so the subscription is live and the
 * publisher may start the measured run. "done": the publisher has handed
 * every message to its socket.
 */
export type PeerKind = "go" | "done";

/** What a scenario may do with the parent. */
export interface Ctl {
  ready(port: number): void;
  result(result: CellResult): void;
  toPeer(kind: PeerKind): void;
  /**
   * A one-way stream's sender reports its CPU time (user + system) per
   * measured message; the receiver's is part of its result.
   */
  sendCpu(usPerMsg: number): void;
  /** Resolves when the peer process sends `kind` (possibly already received). */
  fromPeer(kind: PeerKind): Promise<void>;
  /** Resolves when the parent asks this worker to shut down. */
  stopped: Promise<void>;
}
