// The bind side of restart.test.ts, run as a child process that the test
// kills with SIGKILL and starts again on the same port.
//
//   node restart-sink.js <port> <record file> <incarnation>
//
// Binds 127.0.0.1:<port> (0 picks one), tells the parent { bound: port }
// over the IPC channel, then takes messages one by one. Each message is
// first appended to the record file with a synchronous write(2), then
// announced to the parent ({ received: count }, or { done: true } for the
// final "done" marker).
//
// The record file, not the IPC channel, is the evidence the test judges:
// a write(2) to a regular file that has returned survives a SIGKILL of the
// writer, whereas IPC messages still queued in this process die with it.
// The record is also written before an at-least-once ACK can leave: recv()
// queues the ACK when it resolves, the socket writes queued frames from a
// setImmediate callback, and this loop's continuation (the write) runs in
// the microtask queue, which always empties before the next macrotask. So
// "the sender got the ACK" implies "the message is in the record".
import { openSync, writeSync } from "node:fs";
import { SmartSocket } from "../../src/index.js";

const [portArg, record, incarnation] = process.argv.slice(2);
if (portArg === undefined || record === undefined || incarnation === undefined || process.send === undefined) {
  throw new Error("usage (forked with IPC): restart-sink.js <port> <record file> <incarnation>");
}
const report = (message: object): void => {
  process.send?.(message);
};
// The parent is gone (or dropped us): do not linger as an orphan.
process.on("disconnect", () => process.exit(0));

const fd = openSync(record, "a");
const sock = new SmartSocket();
const endpoint = await sock.bind("127.0.0.1", Number(portArg));
report({ bound: Number(new URL(endpoint).port) });

let count = 0;
for (;;) {
  const text = (await sock.recv()).toString("utf8");
  writeSync(fd, `${incarnation} ${text}\n`);
  if (text === "done") {
    report({ done: true });
  } else {
    count++;
    report({ received: count });
  }
}
