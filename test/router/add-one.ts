// The seed's Add One agent, shared by the router tests and their
// child-process and worker-thread fixtures.
import { messaging } from "../../src/index.js";

const { VLM } = messaging;

/** A connection that answers ADD_ONE n with n + 1, and everything else as the seed's agent does. */
export function addOneAgent(router: messaging.Router): messaging.Connection {
  const conn: messaging.Connection = router.newConnection(async (msg) => {
    if (msg.subject === "ADD_ONE") {
      await conn.send(msg.reply((msg.contents as number) + 1));
      return;
    }
    return [VLM.IGNORE_UNHANDLED_REPLIES, VLM.HANDLE_PING, VLM.HANDLE_DOES_NOT_UNDERSTAND];
  });
  return conn;
}
