/**
 * PUSH/PULL: a pipeline that spreads tasks over workers and collects results.
 *
 * ```
 *                      +--> PULL worker-1 PUSH --+
 *   PUSH ventilator ---+                         +--> PULL sink
 *                      +--> PULL worker-2 PUSH --+
 * ```
 * The ventilator's PUSH hands each task to the next worker in turn
 * (round-robin); the sink's PULL takes results from both workers in turn
 * (fair queueing). Everything runs in this one process over tcp loopback.
 *
 * Run: npm run build && node dist/examples/push-pull.js
 */
import { Pull, Push } from "../src/index.js";

const TASKS = 10;

// Port 0 picks a free port; lastEndpoint tells which one.
const ventilator = new Push();
await ventilator.bind("tcp://127.0.0.1:0");
const sink = new Pull();
await sink.bind("tcp://127.0.0.1:0");
console.log(`ventilator on ${ventilator.lastEndpoint}, sink on ${sink.lastEndpoint}`);

// PUSH round-robins over the peers connected so far. Wait until both
// workers are connected, or the first one to arrive would get every task.
let connected = 0;
const bothConnected = new Promise<void>((resolve) => {
  ventilator.events.on("handshake", () => {
    if (++connected === 2) resolve();
  });
});

/** A worker squares numbers: PULL from the ventilator, PUSH to the sink. */
class Worker {
  readonly tasks = new Pull();
  readonly results = new Push();
  readonly done: Promise<void>;

  constructor(readonly name: string) {
    this.tasks.connect(ventilator.lastEndpoint!);
    this.results.connect(sink.lastEndpoint!);
    this.done = this.run();
  }

  private async run(): Promise<void> {
    // The loop ends when the tasks socket is closed.
    for await (const [task] of this.tasks) {
      const n = Number(task!.toString());
      await this.results.send([this.name, String(n), String(n * n)]);
    }
  }

  async stop(): Promise<void> {
    this.tasks.close();
    await this.done;
    this.results.close();
  }
}

const workers = [new Worker("worker-1"), new Worker("worker-2")];
await bothConnected;
console.log("ventilator: both workers connected, sending tasks");

for (let n = 1; n <= TASKS; n++) await ventilator.send(n);

const perWorker = new Map<string, number>();
for (let i = 0; i < TASKS; i++) {
  const [who, n, square] = (await sink.receive()).map((frame) => frame.toString());
  perWorker.set(who!, (perWorker.get(who!) ?? 0) + 1);
  console.log(`sink: ${who} says ${n}^2 = ${square}`);
}
const shares = [...perWorker].sort().map(([who, count]) => `${count} from ${who}`);
console.log(`sink: got all ${TASKS} results (${shares.join(", ")})`);

await Promise.all(workers.map((w) => w.stop()));
ventilator.close();
sink.close();
