/**
 * The `npm start` demo: two processes talking over tcp loopback.
 *
 * ```
 *   client process (this one)                 server process (forked child)
 *   ---------------------------               ----------------------------
 *   Request  ---- request/reply ------------>  Reply       tcp://127.0.0.1:<port>
 *   Subscriber <-- "news." headlines -------   XPublisher  tcp://127.0.0.1:<port>
 * ```
 * The client forks the server, which binds both sockets on free ports and
 * reports the endpoints back over the fork's IPC channel. The client then
 * asks a few questions, subscribes to the news and asks the server to
 * publish, and finally says goodbye; both processes close their sockets and
 * exit with code 0.
 *
 * The server publishes on an XPublisher rather than a plain Publisher: it
 * receives each subscription as a message, so it can wait until the client's
 * subscription has arrived instead of publishing into the void.
 *
 * Run: npm start (or: npm run build && node dist/examples/demo.js)
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Reply, Request, Subscriber, XPublisher } from "../src/index.js";

const SERVER_ROLE = "--demo-server";
const HEADLINES = 3;

interface Endpoints {
  reply: string;
  publish: string;
}

if (process.argv.includes(SERVER_ROLE)) {
  await server();
} else {
  await client();
}

// --- server (child process) ---------------------------------------------------

async function server(): Promise<void> {
  const log = (text: string): void => console.log(`        [server ${process.pid}] ${text}`);
  const replies = new Reply();
  await replies.bind("tcp://127.0.0.1:0");
  const news = new XPublisher();
  await news.bind("tcp://127.0.0.1:0");
  log(`listening: requests on ${replies.lastEndpoint}, news on ${news.lastEndpoint}`);
  const endpoints: Endpoints = { reply: replies.lastEndpoint!, publish: news.lastEndpoint! };
  // Should the client process go away without saying bye, closing the
  // sockets ends the request loop below, and this process exits too.
  const stop = (): void => {
    replies.close();
    news.close();
  };
  process.once("disconnect", stop);
  process.send!(endpoints, undefined, undefined, (error) => error && stop());

  // The first message an XPublisher receives from a subscriber is its subscription: 0x01 + topic.
  const subscribed = news.receive().then(([subscription]) => {
    log(`a subscriber subscribed to ${JSON.stringify(subscription!.subarray(1).toString())}`);
  });
  subscribed.catch(() => {}); // rejected with EBADF only if the sockets close first

  for await (const [command, argument] of replies) {
    const what = command!.toString();
    log(`<- request ${JSON.stringify(what)}${argument ? ` ${JSON.stringify(argument.toString())}` : ""}`);
    let answer: string;
    switch (what) {
      case "hello":
        answer = `hello ${argument}, this is process ${process.pid}`;
        break;
      case "square": {
        const n = Number(argument!.toString());
        answer = String(n * n);
        break;
      }
      case "publish": {
        await subscribed;
        const count = Number(argument!.toString());
        for (let i = 1; i <= count; i++) {
          const headline = `headline ${i} of ${count}: Switchboard speaks ZMTP 3.1`;
          log(`publishing ${JSON.stringify(headline)}`);
          await news.send(["news.tech", headline]);
        }
        answer = `published ${count} headlines`;
        break;
      }
      case "bye":
        answer = "bye";
        break;
      default:
        answer = `unknown request ${what}`;
    }
    log(`-> reply ${JSON.stringify(answer)}`);
    await replies.send(answer);
    if (what === "bye") break;
  }

  // close() flushes the last reply to the client before the links close.
  replies.close();
  news.close();
  if (process.connected) process.disconnect();
  log("closed, exiting");
}

// --- client (parent process) --------------------------------------------------

async function client(): Promise<void> {
  const log = (text: string): void => console.log(`[client ${process.pid}] ${text}`);
  log("starting the server process");
  const child = fork(fileURLToPath(import.meta.url), [SERVER_ROLE]);
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const [endpoints] = (await Promise.race([
    once(child, "message"),
    exited.then(() => Promise.reject(new Error("the server process exited before it was ready"))),
  ])) as [Endpoints];
  log(`the server listens on ${endpoints.reply} and ${endpoints.publish}`);

  // A receive timeout turns a server that stopped answering into an error instead of a hang.
  const requests = new Request({ receiveTimeout: 10_000 });
  requests.connect(endpoints.reply);
  const news = new Subscriber({ receiveTimeout: 10_000 });
  news.subscribe("news.");
  news.connect(endpoints.publish);

  const ask = async (...request: string[]): Promise<string> => {
    log(`-> request ${request.map((part) => JSON.stringify(part)).join(" ")}`);
    await requests.send(request);
    const [reply] = await requests.receive();
    log(`<- reply ${JSON.stringify(reply!.toString())}`);
    return reply!.toString();
  };

  try {
    await ask("hello", `process ${process.pid}`);
    await ask("square", "12");

    const headlines = (async () => {
      for (let i = 0; i < HEADLINES; i++) {
        const [topic, headline] = await news.receive();
        log(`<- ${topic}: ${headline}`);
      }
    })();
    await ask("publish", String(HEADLINES));
    await headlines;
    log(`received all ${HEADLINES} headlines`);

    await ask("bye");
  } catch (error) {
    child.kill();
    throw error;
  } finally {
    requests.close();
    news.close();
  }

  const [code, signal] = await exited;
  log(`the server process exited with code ${code}${signal ? ` (${signal})` : ""}`);
  if (code !== 0) {
    process.exitCode = 1;
    return;
  }
  log("demo finished: both processes exchanged request/reply and pub/sub messages");
}
