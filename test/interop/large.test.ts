// 64 MiB messages against libzmq over tcp, in both directions, for PUSH-PULL
// and DEALER-ROUTER.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LIBZMQ, MiB, payload, SWITCHBOARD, withScope, type Side } from "./harness.js";

const SIZE = 64 * MiB;

function assertPayload(actual: Buffer | undefined, expected: Buffer, what: string): void {
  assert.ok(actual, `${what}: frame present`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(actual.equals(expected), `${what}: content`);
}

const CASES: ReadonlyArray<{ sender: Side; binder: Side }> = [
  { sender: SWITCHBOARD, binder: SWITCHBOARD },
  { sender: LIBZMQ, binder: LIBZMQ },
];

for (const { sender, binder } of CASES) {
  const receiver = sender === SWITCHBOARD ? LIBZMQ : SWITCHBOARD;
  const name =
    `64 MiB PUSH-PULL from ${sender.name} to ${receiver.name} ` +
    `(${binder === sender ? "PUSH" : "PULL"} binds, tcp)`;
  test(name, { timeout: 60_000 }, () =>
    withScope(async (scope) => {
      const push = scope.open(sender, "Push");
      const pull = scope.open(receiver, "Pull");
      const [bindSock, connectSock] = binder === sender ? [push, pull] : [pull, push];
      connectSock.connect(await scope.bind(bindSock, "tcp"));

      // A 64 MiB message: the 4-byte head plus the rest, which is exactly
      // Switchboard's default maxMessageSize (it bounds whole messages).
      const big = payload(SIZE - 4, 3);
      await push.send(["head", big]);
      const message = await pull.receive();
      assert.equal(message.length, 2);
      assert.equal(message[0]?.toString(), "head");
      assertPayload(message[1], big, "large frame");
    }),
  );
}

for (const dealerSide of [SWITCHBOARD, LIBZMQ]) {
  const routerSide = dealerSide === SWITCHBOARD ? LIBZMQ : SWITCHBOARD;
  test(`64 MiB DEALER-ROUTER both ways, ${dealerSide.name} DEALER to ${routerSide.name} ROUTER (tcp)`, { timeout: 60_000 }, () =>
    withScope(async (scope) => {
      const router = scope.open(routerSide, "Router");
      const dealer = scope.open(dealerSide, "Dealer");
      dealer.connect(await scope.bind(router, "tcp"));

      const request = payload(SIZE, 4);
      await dealer.send(request);
      const [id, body, ...rest] = await router.receive();
      assert.equal(rest.length, 0);
      assertPayload(body, request, "request");

      const reply = payload(SIZE, 5);
      await router.send([id!, reply]);
      const [answer, ...more] = await dealer.receive();
      assert.equal(more.length, 0);
      assertPayload(answer, reply, "reply");
    }),
  );
}
