import { Herald } from "@herald/next";
import { apiKey, heraldUrl } from "./config";

/** Herald's HTTP API (publish, history, presence…) for Server Components, Route Handlers and Server Actions. */
export function heraldServer(): Herald {
  const key = apiKey();
  return new Herald(key ? { url: heraldUrl(), apiKey: key } : { url: heraldUrl() });
}
