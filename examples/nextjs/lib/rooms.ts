/** The chat rooms (channels `room:<id>`). */
export const ROOMS = [
  { id: "general", title: "General" },
  { id: "random", title: "Random" },
  { id: "dev", title: "Dev" },
] as const;

export type RoomId = (typeof ROOMS)[number]["id"];

export function isRoomId(id: string): id is RoomId {
  return ROOMS.some((r) => r.id === id);
}

export const roomChannel = (id: string) => `room:${id}`;

/** Everyone signed in subscribes here: the online list, with a status. */
export const ONLINE_CHANNEL = "online:everyone";
/** Presence of the dashboard page: who's viewing. */
export const DASH_VIEWERS_CHANNEL = "dash:viewers";
/** Figures published by the producer, read over SSE. */
export const METRICS_CHANNEL = "metrics:live";

/** Messages per history page (first paint and each page back). */
export const HISTORY_PAGE = 30;
