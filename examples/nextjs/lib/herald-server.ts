import { HeraldServer } from "@herald/next";
import { apiKey, heraldUrl } from "./config";

/** Herald's HTTP API (publish, history, presence…) for Server Components, Route Handlers and Server Actions. */
export function heraldServer(): HeraldServer {
  const key = apiKey();
  return new HeraldServer(key ? { url: heraldUrl(), apiKey: key } : { url: heraldUrl() });
}
