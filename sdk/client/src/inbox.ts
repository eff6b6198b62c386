import { Emitter } from "./emitter.js";
import type { Frame } from "./outbox.js";
import { decodeNotification } from "./wire.js";
import type { NotificationEvent, NotificationsOptions, NotificationsPage } from "./types.js";

export interface InboxEvents {
  /** A new notification, with your unread count. */
  notification: NotificationEvent;
  /** Your unread notification count: right after connecting and after every change to your inbox (any tab). */
  unread: number;
}

/**
 * The signed-in user's notification inbox (`herald.inbox`). The app's back
 * end fills it (`POST /api/notifications`); every change is pushed to every
 * connection of the user. Needs a token with `sub` (error 101 otherwise).
 */
export class Inbox {
  private readonly events = new Emitter<InboxEvents>();
  private _unread: number | undefined;

  /** @internal use `herald.inbox` */
  constructor(private readonly request: (frame: Frame) => Promise<Record<string, unknown>>) {}

  /** The last unread count the server reported (`undefined` before the first one). */
  get unread(): number | undefined {
    return this._unread;
  }

  on<K extends keyof InboxEvents>(event: K, listener: (payload: InboxEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof InboxEvents>(event: K, listener: (payload: InboxEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /** A page of notifications, newest first. Page back with `before` = the smallest id you have. */
  async list<D = unknown>(options: NotificationsOptions = {}): Promise<NotificationsPage<D>> {
    const frame: Frame = { op: "notifications" };
    if (options.limit !== undefined) frame.limit = options.limit;
    if (options.before !== undefined) frame.before = options.before;
    const r = await this.request(frame);
    const list = Array.isArray(r.notifications) ? r.notifications : [];
    const unread = Number(r.unread ?? 0);
    this._unread = unread;
    return { notifications: list.map((n) => decodeNotification<D>(n)), unread };
  }

  /** Marks one notification read; resolves with the new unread count. Error 118 if it is not in your inbox. */
  async markRead(id: number): Promise<number> {
    return this.change({ op: "notification_read", notification: id });
  }

  /** Marks every notification read. */
  async markAllRead(): Promise<number> {
    return this.change({ op: "notification_read", all: true });
  }

  /** Deletes a notification; resolves with the new unread count. */
  async remove(id: number): Promise<number> {
    return this.change({ op: "notification_delete", notification: id });
  }

  private async change(frame: Frame): Promise<number> {
    const r = await this.request(frame);
    const unread = Number(r.unread ?? 0);
    this._unread = unread;
    return unread;
  }

  /** @internal */
  _onPush(kind: string, msg: Record<string, unknown>): void {
    if (kind === "notification") {
      const unread = Number(msg.unread ?? 0);
      this._unread = unread;
      this.events.emit("notification", { notification: decodeNotification(msg.notification), unread });
    } else if (kind === "unread") {
      const unread = Number(msg.unread ?? 0);
      this._unread = unread;
      this.events.emit("unread", unread);
    }
  }

  /** @internal */
  _destroy(): void {
    this.events.removeAll();
  }
}
