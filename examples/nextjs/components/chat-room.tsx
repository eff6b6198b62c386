"use client";

import type { OptimisticItem, ReadPosition } from "@herald/client";
import { useChannel, useConnectionState, useHerald, usePresence, useReadReceipts, useTyping } from "@herald/react";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { LocalTime } from "@/components/local-time";
import { useMe } from "@/components/providers";
import { outbox } from "@/lib/outbox";
import { useBrowserOnline } from "@/lib/use-browser-online";
import { HISTORY_PAGE, ONLINE_CHANNEL, roomChannel } from "@/lib/rooms";
import type { ChatMessage, InitialMessage, UserInfo } from "@/lib/types";

interface Row {
  key: string;
  offset?: number;
  time?: number;
  data: ChatMessage;
  user?: string;
  status: OptimisticItem<ChatMessage>["status"];
}

/** "Bob", "Bob and Carol", "Bob, Carol and Dan". */
function listNames(names: string[]): string {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

function fromHistory(m: InitialMessage): Row {
  const row: Row = { key: m.key, offset: m.offset, time: m.time, data: m.data, status: "confirmed" };
  if (m.user !== undefined) row.user = m.user;
  return row;
}

function fromLive(i: OptimisticItem<ChatMessage>, me: string): Row {
  const row: Row = { key: i.key, data: i.data, status: i.status };
  if (i.offset !== undefined) row.offset = i.offset;
  if (i.publication) row.time = i.publication.time;
  // The server's publisher wins over what the sender wrote; no publication yet = my own publish.
  row.user = i.publication?.publisher?.user ?? (i.publication ? i.data.user : me);
  return row;
}

/**
 * Server history (first paint and pages loaded back) merged with the live,
 * optimistic list by offset: each message once, in order, then my pending ones.
 */
function mergeRows(older: readonly InitialMessage[], live: readonly OptimisticItem<ChatMessage>[], me: string): Row[] {
  const byOffset = new Map<number, Row>();
  for (const m of older) byOffset.set(m.offset, fromHistory(m));
  const pending: Row[] = [];
  for (const i of live) {
    const row = fromLive(i, me);
    if (row.offset === undefined) pending.push(row);
    else byOffset.set(row.offset, { ...byOffset.get(row.offset), ...row, time: row.time ?? byOffset.get(row.offset)?.time });
  }
  const confirmed = [...byOffset.values()].sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0));
  const seen = new Set(confirmed.map((r) => r.key));
  return [...confirmed, ...pending.filter((r) => !seen.has(r.key))];
}

export interface ChatRoomProps {
  room: string;
  title: string;
  initial: InitialMessage[];
  hasOlder: boolean;
  initialReads: ReadPosition[];
  historyError?: string | undefined;
}

export function ChatRoom(props: ChatRoomProps) {
  const me = useMe();
  const herald = useHerald();
  const connection = useConnectionState();
  const browserOnline = useBrowserOnline();
  // Pending messages say "Queued" while they cannot leave: disconnected, or the browser is offline.
  const live = connection === "connected" && browserOnline;
  const channel = roomChannel(props.room);
  const { messages, publish } = useChannel<ChatMessage>(channel, { history: HISTORY_PAGE });
  const [older, setOlder] = useState<InitialMessage[]>(props.initial);
  const [hasOlder, setHasOlder] = useState(props.hasOlder);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [sendError, setSendError] = useState<string | null>(null);
  const [draft, setDraft] = useState("");

  const rows = useMemo(() => mergeRows(older, messages, me.id), [older, messages, me.id]);
  const { typing, notifyTyping } = useTyping(channel);
  const { seenBy, markRead } = useReadReceipts(channel, { initial: props.initialReads });
  const { members } = usePresence<UserInfo>(ONLINE_CHANNEL);

  // Display names: from presence (the token's info), else from messages.
  const nameOf = useMemo(() => {
    const names = new Map<string, string>();
    for (const r of rows) if (r.user) names.set(r.user, r.data.name);
    for (const m of members) if (m.user && m.info?.name) names.set(m.user, m.info.name);
    return (user: string) => names.get(user) ?? user;
  }, [rows, members]);

  // "Seen by" under my newest message that the server has stored.
  const lastMine = [...rows].reverse().find((r) => r.user === me.id && r.offset !== undefined);
  const seen = lastMine?.offset !== undefined ? seenBy(lastMine.offset).filter((u) => u !== me.id) : [];

  // ---- scrolling: stick to the bottom, keep the position when older pages are prepended ----
  const listRef = useRef<HTMLDivElement>(null);
  const topRef = useRef<HTMLDivElement>(null);
  const prependFrom = useRef<number | null>(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (prependFrom.current !== null) {
      el.scrollTop += el.scrollHeight - prependFrom.current;
      prependFrom.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [rows]);
  // Read receipts: the newest stored message counts as read when it is on screen in a visible tab.
  const newest = rows.reduce((max, r) => Math.max(max, r.offset ?? 0), 0);
  const markIfSeen = useCallback(() => {
    if (newest > 0 && stick.current && document.visibilityState === "visible") markRead(newest).catch(() => {});
  }, [newest, markRead]);
  useEffect(() => {
    markIfSeen();
    document.addEventListener("visibilitychange", markIfSeen);
    return () => document.removeEventListener("visibilitychange", markIfSeen);
  }, [markIfSeen]);

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    markIfSeen();
  };

  const firstOffset = rows.find((r) => r.offset !== undefined)?.offset;
  const loadOlder = useCallback(async () => {
    if (loadingOlder || !hasOlder || firstOffset === undefined || firstOffset <= 1) return;
    setLoadingOlder(true);
    try {
      const page = await herald
        .channel<ChatMessage>(channel)
        .history({ direction: "backward", before: firstOffset, limit: HISTORY_PAGE });
      const got: InitialMessage[] = page.publications
        .map((p) => ({
          offset: p.offset,
          time: p.time,
          data: p.data,
          user: p.publisher?.user ?? p.data.user,
          key: p.idempotencyKey ?? `offset:${p.offset}`,
        }))
        .reverse();
      prependFrom.current = listRef.current?.scrollHeight ?? null;
      setOlder((prev) => [...got, ...prev]);
      setHasOlder((got[0]?.offset ?? 1) > 1);
    } catch {
      /* try again on the next scroll */
    } finally {
      setLoadingOlder(false);
    }
  }, [channel, firstOffset, hasOlder, herald, loadingOlder]);

  useEffect(() => {
    const top = topRef.current;
    const root = listRef.current;
    if (!top || !root || !hasOlder) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) void loadOlder();
      },
      { root, rootMargin: "40px 0px 0px 0px" },
    );
    io.observe(top);
    return () => io.disconnect();
  }, [hasOlder, loadOlder]);

  // ---- sending ----
  const send = (e: FormEvent) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text) return;
    setDraft("");
    setSendError(null);
    stick.current = true;
    outbox.track(publish({ text, name: me.name, user: me.id })).catch((err: unknown) => {
      setSendError(`Not sent: ${err instanceof Error ? err.message : String(err)}`);
    });
  };

  return (
    <section className="room" aria-label={`Room ${props.title}`}>
      <header className="room-header">
        <h2># {props.title}</h2>
      </header>
      <div className="messages" ref={listRef} onScroll={onScroll} data-testid="messages">
        <div ref={topRef} className="history-edge">
          {hasOlder ? (loadingOlder ? "Loading older messages…" : "Scroll up for older messages") : "Beginning of #" + props.title}
        </div>
        {props.historyError ? <p className="error">{props.historyError}</p> : null}
        <ol>
          {rows.map((r) => {
            const mine = r.user === me.id;
            return (
              <li
                key={r.key}
                className={`msg${mine ? " mine" : ""}${r.status === "pending" ? " pending" : ""}`}
                data-testid="message"
                data-status={r.status}
                data-offset={r.offset}
              >
                <div className="msg-meta">
                  <span className="msg-author">{mine ? "You" : r.data.name}</span>
                  <span className="msg-status">
                    {r.status === "pending" ? (
                      live ? (
                        "Sending…"
                      ) : (
                        "Queued"
                      )
                    ) : r.time !== undefined ? (
                      <LocalTime ms={r.time} />
                    ) : (
                      "✓"
                    )}
                  </span>
                </div>
                <div className="msg-text">{r.data.text}</div>
              </li>
            );
          })}
          {seen.length > 0 ? (
            <li className="seen" data-testid="seen-by">
              Seen by {listNames(seen.map(nameOf))}
            </li>
          ) : null}
        </ol>
      </div>
      <div className="typing" data-testid="typing" aria-live="polite">
        {typing.length === 0
          ? ""
          : `${listNames(typing.map(nameOf))} ${typing.length === 1 ? "is" : "are"} typing…`}
      </div>
      <form className="composer" onSubmit={send}>
        <input
          aria-label="Message"
          data-testid="composer"
          value={draft}
          onChange={(e) => {
            setDraft(e.target.value);
            if (e.target.value.trim()) notifyTyping();
          }}
          placeholder={`Message #${props.title}`}
          maxLength={2000}
          autoComplete="off"
        />
        <button type="submit" disabled={!draft.trim()}>
          Send
        </button>
      </form>
      {sendError ? (
        <p role="alert" className="error composer-error">
          {sendError}
        </p>
      ) : null}
    </section>
  );
}
