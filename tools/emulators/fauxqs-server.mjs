// Starts the fauxqs SQS emulator for genesys-relay's integration tests
// (used by scripts/emulators.sh instead of the package's own CLI).
//
// Differences from `npx fauxqs`:
//   - listens on FAUXQS_BIND (default 127.0.0.1), not on every interface;
//   - unless FAUXQS_HOST is set, queue URLs are built from the request's Host
//     header, e.g. http://127.0.0.1:4566/000000000000/genesys-events, so a
//     queue URL is also a reachable endpoint. The CLI would return
//     http://sqs.us-east-1.localhost:4566/... which does not resolve here.
//   - request logging is off unless FAUXQS_LOGGER=true.
//
// fauxqs finds a queue by its exact URL: use the URL that CreateQueue or
// GetQueueUrl returned.
import { buildApp } from "fauxqs";
// Not part of the package's exports; the version is pinned in package-lock.json.
import { SqsStore } from "./node_modules/fauxqs/dist/sqs/sqsStore.js";

const port = Number.parseInt(process.env.FAUXQS_PORT ?? "4566", 10);
const bind = process.env.FAUXQS_BIND || "127.0.0.1";
const logger = process.env.FAUXQS_LOGGER === "true";

const sqsStore = new SqsStore();
sqsStore.host = process.env.FAUXQS_HOST ?? "";

const app = buildApp({
  logger,
  defaultRegion: process.env.FAUXQS_DEFAULT_REGION,
  stores: { sqsStore },
});

const shutdown = async (signal) => {
  try {
    await app.close();
  } finally {
    process.exit(signal === "SIGINT" ? 130 : 0);
  }
};
process.once("SIGTERM", () => shutdown("SIGTERM"));
process.once("SIGINT", () => shutdown("SIGINT"));

try {
  const address = await app.listen({ port, host: bind });
  console.log(`fauxqs listening at ${address}`);
} catch (err) {
  console.error(`fauxqs failed to listen on ${bind}:${port}: ${err.message}`);
  process.exit(1);
}
