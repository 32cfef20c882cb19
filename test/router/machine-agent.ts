// A child process with a MACHINE-mode router and the seed's Add One agent.
// It reports the agent's address to its parent over the IPC channel, then
// serves until it is told to stop or is killed.
import { messaging } from "../../src/index.js";
import { addOneAgent } from "./add-one.js";

const { Router, VLM } = messaging;

if (process.argv[2] === "--machine-agent") {
  const router = new Router({ mode: VLM.MACHINE_MODE });
  const conn = addOneAgent(router);
  await router.ready;
  process.send?.({ addr: conn.addr.toString(), pid: process.pid });
  process.on("message", () => {
    router.shutdown();
    process.exit(0);
  });
  process.on("disconnect", () => process.exit(0));
}
