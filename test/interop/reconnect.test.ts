// Reconnection against libzmq: the libzmq binder closes and binds again on the
// same endpoint, and the Switchboard connecter comes back by itself.
import { test } from "node:test";
import {
  assertFrames,
  LIBZMQ,
  newProbe,
  primeSubscription,
  receiveData,
  SWITCHBOARD,
  TRANSPORTS,
  withScope,
  type Scope,
  type Sock,
  type SocketKind,
  type Transport,
} from "./harness.js";

/** The libzmq binder on one endpoint, with a way to replace it by a fresh one. */
class RestartingBinder {
  private constructor(
    private readonly scope: Scope,
    private readonly kind: SocketKind,
    public sock: Sock,
    readonly endpoint: string,
  ) {}

  static async open(scope: Scope, kind: SocketKind, transport: Transport): Promise<RestartingBinder> {
    const sock = scope.open(LIBZMQ, kind);
    return new RestartingBinder(scope, kind, sock, await scope.bind(sock, transport));
  }

  /** Unbinds, waits until the listener is really closed, then closes the socket. */
  async close(): Promise<void> {
    const closed = this.scope.nextEvent(this.sock, "close", 5000, "libzmq listener closed");
    await this.sock.unbind(this.endpoint);
    await closed;
    this.sock.close();
  }

  async bindAgain(): Promise<Sock> {
    this.sock = this.scope.open(LIBZMQ, this.kind);
    await this.scope.bindExact(this.sock, this.endpoint);
    return this.sock;
  }
}

/**
 * Connects `client` to `binder`, runs `before`, restarts the binder and waits
 * for `client` to complete a new handshake.
 */
async function throughRestart(
  scope: Scope,
  binder: RestartingBinder,
  client: Sock,
  before: () => Promise<void>,
): Promise<Sock> {
  const firstHandshake = scope.nextEvent(client, "handshake", 5000, "first connection");
  client.connect(binder.endpoint);
  await firstHandshake;
  await before();

  const dropped = scope.nextEvent(client, "disconnect", 5000, "binder went away");
  await binder.close();
  await dropped;
  const again = scope.nextEvent(client, "handshake", 10_000, "reconnected to the new binder");
  const fresh = await binder.bindAgain();
  await again;
  return fresh;
}

for (const transport of TRANSPORTS) {
  test(`switchboard PUSH reconnects when the libzmq PULL binds again (${transport})`, { timeout: 20_000 }, () =>
    withScope(async (scope) => {
      const binder = await RestartingBinder.open(scope, "Pull", transport);
      const push = scope.open(SWITCHBOARD, "Push");
      const pull = await throughRestart(scope, binder, push, async () => {
        await push.send(["before", ""]);
        assertFrames(await binder.sock.receive(), ["before", ""], "first PULL");
      });

      for (let i = 0; i < 10; i++) await push.send([`after-${i}`, "x"]);
      for (let i = 0; i < 10; i++) assertFrames(await pull.receive(), [`after-${i}`, "x"], "new PULL");
    }),
  );

  test(`switchboard DEALER reconnects to a restarted libzmq ROUTER with the same routingId (${transport})`, { timeout: 20_000 }, () =>
    withScope(async (scope) => {
      const binder = await RestartingBinder.open(scope, "Router", transport);
      const dealer = scope.open(SWITCHBOARD, "Dealer", { routingId: "stable-id" });
      const roundTrip = async (router: Sock, tag: string): Promise<void> => {
        await dealer.send(tag);
        assertFrames(await router.receive(), ["stable-id", tag], "ROUTER sees the DEALER's id");
        await router.send(["stable-id", `${tag}-reply`]);
        assertFrames(await dealer.receive(), [`${tag}-reply`], "DEALER got the reply");
      };
      const router = await throughRestart(scope, binder, dealer, () => roundTrip(binder.sock, "first"));
      for (let i = 0; i < 5; i++) await roundTrip(router, `second-${i}`);
    }),
  );

  test(`switchboard SUB resubscribes when the libzmq XPUB binds again (${transport})`, { timeout: 20_000 }, () =>
    withScope(async (scope) => {
      const binder = await RestartingBinder.open(scope, "XPublisher", transport);
      const sub = scope.open(SWITCHBOARD, "Subscriber");
      sub.subscribe("news");
      const xpub = await throughRestart(scope, binder, sub, async () => {
        await primeSubscription((probe) => binder.sock.send(probe), sub, newProbe("news"));
        assertFrames(await binder.sock.receive(), ["\x01news"], "first XPUB saw the subscription");
      });

      // Nothing but the re-sent subscription can make the new XPUB deliver.
      await primeSubscription((probe) => xpub.send(probe), sub, newProbe("news"));
      assertFrames(await xpub.receive(), ["\x01news"], "new XPUB saw the re-sent subscription");
      await xpub.send(["weather", "ignored"]);
      await xpub.send(["news-1", "body"]);
      assertFrames(await receiveData(sub), ["news-1", "body"], "SUB receives again");
    }),
  );
}
