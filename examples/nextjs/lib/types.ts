/** A chat message's `data`. */
export interface ChatMessage {
  text: string;
  /** Display name of the author. */
  name: string;
  /** Author's user id as the sender claims it; live messages carry the server's `publisher.user`, which wins. */
  user: string;
}

/** The signed-in user (dev sign-in). */
export interface SessionUser {
  id: string;
  name: string;
}

/** Presence `info` (from the token). */
export interface UserInfo {
  name: string;
}

/** One sample of the live dashboard. */
export interface Figures {
  /** Sample number since the producer started. */
  seq: number;
  /** Server time, ms. */
  at: number;
  /** Messages stored across rooms (sum of their top offsets). */
  messages: number;
  /** Users online (presence of online:everyone). */
  online: number;
  /** Notifications sent by this app since it started. */
  notifications: number;
  /** Per room: stored messages. */
  rooms: Record<string, number>;
}

/** A history publication as passed from Server Components to client components. */
export interface InitialMessage {
  offset: number;
  time: number;
  data: ChatMessage;
  user?: string;
  key: string;
}
