/**
 * Runs one hostile case against a live target and checks it against the
 * reference model: how and why the connection ends, which events and
 * diagnostics the socket reports, which messages its application receives,
 * which PONGs come back, and that the good peer still gets through.
 */
import assert from "node:assert/strict";
import { ProtocolError } from "../../src/index.js";
import { encodePing } from "../../src/wire/index.js";
import { PeerModel, simulate, type ModelConfig, type ModelResult } from "./model.js";
import { ManualClock, RawPeer, chunk, commandsNamed, parseOutput, type Chunking } from "./raw-peer.js";
import { GOOD_ID, HANDSHAKE_INTERVAL, MAX_MESSAGE_SIZE, type Observed, type Target } from "./targets.js";

/** A case that has not settled after this long has hung: fail it (and free its connection) instead of waiting forever. */
const CASE_DEADLINE_MS = 5000;

export function modelConfig(target: Target): ModelConfig {
  return { type: target.type, maxMessageSize: MAX_MESSAGE_SIZE, takenIds: [GOOD_ID] };
}

/** PONGs in Switchboard's answer so far. */
export function pongs(output: Buffer): Buffer[] {
  return commandsNamed(parseOutput(output).frames, "PONG");
}

/** Connects to `target`, waits until it accepted, and writes `chunks`. */
export async function connectAndWrite(target: Target, chunks: readonly Buffer[]): Promise<RawPeer> {
  target.reset();
  const accepted = target.nextAccept();
  const peer = await RawPeer.open(target.endpoint);
  await accepted;
  await peer.write(chunks);
  return peer;
}

let liveness = 0;

/**
 * Extends a stream the model calls valid-so-far with bytes that reach a frame
 * boundary and a PING, so the PONG proves the connection is still in sync.
 */
export function withLivenessPing(config: ModelConfig, stream: Buffer): { stream: Buffer; model: ModelResult } {
  const model = simulate(config, stream);
  if (model.verdict.kind !== "ready") return { stream, model };
  const completion = new PeerModel(config).push(stream).completion();
  if (completion === undefined) return { stream, model };
  // An 18-byte context: the PONG must carry back exactly its first 16.
  const context = Buffer.from(`alive-${++liveness}`.padEnd(18, "."));
  const extended = Buffer.concat([stream, completion, encodePing(0, context)]);
  return { stream: extended, model: simulate(config, extended) };
}

/** Runs one case; throws an assertion error describing the first difference from the model. */
export async function runCase(
  target: Target,
  clock: ManualClock,
  original: Buffer,
  chunking: Chunking,
  keepOpen: boolean,
): Promise<void> {
  const config = modelConfig(target);
  const { stream, model } = withLivenessPing(config, original);
  let peer: RawPeer | undefined;
  let timer: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`case did not settle: verdict ${JSON.stringify(model.verdict)}, events ${describe(target.events)}`);
      abort.abort(error); // stops the waits of the abandoned attempt
      peer?.destroy();
      reject(error);
    }, CASE_DEADLINE_MS);
  });
  let settled = false;
  try {
    await Promise.race([deadline, (async () => {
      peer = await connectAndWrite(target, chunk(stream, chunking));
      await settle(peer, model, clock, keepOpen);
      await switchboardSideClosed(target, clock, model, abort.signal);
      checkEnding(target, peer, model, keepOpen);
      // The well-behaved peer still gets through, and then everything from the hostile one has been read.
      await target.roundTrip();
      await new Promise((resolve) => setImmediate(resolve));
      checkDelivered(target, model);
      settled = true;
    })()]);
  } finally {
    clearTimeout(timer);
    peer?.destroy();
    // After a failure the connection may still be closing: let its last events land in this case,
    // not in the next one (fast-check runs more cases while it shrinks).
    for (let turn = 0; !settled && turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Drives the connection to its end the way the verdict calls for. */
async function settle(peer: RawPeer, model: ModelResult, clock: ManualClock, keepOpen: boolean): Promise<void> {
  const verdict = model.verdict;
  if (verdict.kind === "ready") {
    const expected = model.pongs.length;
    const got = await peer.until((out) => pongs(out).length >= expected);
    assert.ok(got, `connection closed before ${expected} PONG(s) came back`);
    assert.deepEqual(pongs(peer.output), model.pongs, "PONGs echo each PING's context");
    peer.end();
  } else if (!keepOpen) {
    peer.end();
  } else if (verdict.kind === "pending") {
    // Only the handshake deadline can end this one; any prefix of the stream is pending too, so
    // firing it before every byte was read changes nothing.
    clock.advance(HANDSHAKE_INTERVAL);
  }
  await peer.closed;
  if (keepOpen && verdict.kind !== "ready") assert.ok(peer.closedByServer, "Switchboard closed the connection itself");
}

/** Resolves once `condition` holds, checking once per event-loop turn (the case deadline bounds it). */
export async function turnsUntil(condition: () => boolean, signal?: AbortSignal): Promise<void> {
  while (!condition()) {
    signal?.throwIfAborted();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Our end may see the close a moment before Switchboard's end has finished
 * it: wait for that, so no late event or timer leaks into the next case. A
 * handshaken link ends with "disconnect"; any other connection clears its
 * handshake timer when it closes, and no other timer runs on the manual clock.
 */
async function switchboardSideClosed(target: Target, clock: ManualClock, model: ModelResult, signal: AbortSignal): Promise<void> {
  if (model.verdict.kind === "ready") await turnsUntil(() => target.events.some((e) => e.type === "disconnect"), signal);
  await turnsUntil(() => clock.pending === 0, signal);
}

function describe(events: readonly Observed[]): string {
  return JSON.stringify(events.map((e) => (e.error ? `${e.type}(${e.error.code})` : e.type)));
}

/** The events and diagnostics of one connection, against the verdict. */
function checkEnding(target: Target, peer: RawPeer, model: ModelResult, keepOpen: boolean): void {
  const verdict = model.verdict;
  const events = target.events;
  const seen = describe(events);
  const types = events.map((e) => e.type);
  const failure = events.find((e) => e.error !== undefined);
  const published = target.published;
  const expectCoded = (codes: readonly string[]): ProtocolError => {
    assert.ok(failure, `expected an error among ${seen}`);
    assert.ok(failure.error instanceof ProtocolError, `a ProtocolError, got ${String(failure.error)}`);
    assert.match(failure.error.code, /^ERR_ZMTP_/);
    assert.ok(codes.includes(failure.error.code), `code ${failure.error.code} is one of ${codes.join(", ")}`);
    return failure.error;
  };
  const expectPublished = (error: ProtocolError): void => {
    assert.equal(published.length, 1, "one protocol-error diagnostic");
    assert.equal(published[0]!.error, error);
    assert.equal(published[0]!.socketType, target.type);
    assert.equal(published[0]!.address, target.endpoint);
  };
  switch (verdict.kind) {
    case "refused": {
      const error = expectCoded(verdict.codes);
      if (verdict.phase === "traffic") {
        assert.deepEqual(types, ["accept", "handshake", "disconnect"], seen);
      } else {
        assert.deepEqual(types, ["accept", "handshake:error:protocol"], seen);
      }
      expectPublished(error);
      return;
    }
    case "duplicate":
      assert.deepEqual(types, ["accept", "handshake:error:protocol"], seen);
      expectPublished(expectCoded(["ERR_ZMTP_DUPLICATE_ROUTING_ID"]));
      if (keepOpen) assert.ok(peer.closedByServer, "the newcomer is disconnected");
      return;
    case "pending": {
      if (!keepOpen && failure === undefined) {
        // We left during the handshake: nothing to report.
        assert.deepEqual(types, ["accept"], seen);
        assert.equal(published.length, 0);
        return;
      }
      const codes = keepOpen ? ["ERR_ZMTP_HANDSHAKE_TIMEOUT", ...verdict.earlyCodes] : verdict.earlyCodes;
      assert.deepEqual(types, ["accept", "handshake:error:protocol"], seen);
      expectPublished(expectCoded(codes));
      return;
    }
    case "ready":
      assert.deepEqual(types, ["accept", "handshake", "disconnect"], seen);
      assert.equal(failure, undefined, `a clean end, got ${seen}`);
      assert.equal(published.length, 0);
      return;
  }
}

/** The messages the application received from the hostile peer, against the model. */
function checkDelivered(target: Target, model: ModelResult): void {
  const got = target.hostile;
  const want = model.delivered;
  if (target.type !== "ROUTER") {
    assert.deepEqual(got, want, "the application receives exactly the complete messages");
    return;
  }
  assert.equal(got.length, want.length, "the application receives exactly the complete messages");
  const id = got[0]?.[0];
  for (let i = 0; i < got.length; i++) {
    const [routingId, ...frames] = got[i]!;
    if (model.identity) {
      assert.deepEqual(routingId, model.identity, "ROUTER names the peer by its Identity");
    } else {
      assert.ok(routingId?.length === 5 && routingId[0] === 0, "a generated routing id is 0x00 + 4 bytes");
      assert.deepEqual(routingId, id, "one peer, one routing id");
    }
    assert.deepEqual(frames, want[i]);
  }
}
