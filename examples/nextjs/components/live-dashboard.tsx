"use client";

import { usePresence } from "@herald/react";
import { useEffect, useState } from "react";
import { LocalTime } from "@/components/local-time";
import { useMe } from "@/components/providers";
import { DASH_VIEWERS_CHANNEL, METRICS_CHANNEL, ROOMS } from "@/lib/rooms";
import type { Figures, UserInfo } from "@/lib/types";

const KEEP = 30;
type StreamState = "connecting" | "live" | "reconnecting";

async function fetchToken(): Promise<string> {
  const r = await fetch("/api/herald-token", { cache: "no-store" });
  if (!r.ok) throw new Error(`token route answered ${r.status}`);
  return ((await r.json()) as { token: string }).token;
}

/**
 * Follows `metrics:live` over Herald's SSE door with the browser's own
 * EventSource. It reconnects by itself with Last-Event-ID (Herald replays
 * what was missed); when the stream is refused (an expired token in the
 * URL), a new token is fetched and the stream reopened from the last id.
 */
function useFigures(heraldUrl: string, initial: Figures[]): { samples: Figures[]; stream: StreamState } {
  const [samples, setSamples] = useState(initial);
  const [stream, setStream] = useState<StreamState>("connecting");
  useEffect(() => {
    let es: EventSource | null = null;
    let lastId = "";
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const open = async () => {
      let token: string;
      try {
        token = await fetchToken();
      } catch {
        if (!stopped) retry = setTimeout(() => void open(), 2000);
        return;
      }
      if (stopped) return;
      const q = new URLSearchParams({ channel: METRICS_CHANNEL, token });
      if (lastId) q.set("lastEventId", lastId);
      es = new EventSource(`${heraldUrl.replace(/\/$/, "")}/sse?${q}`);
      es.addEventListener("connected", () => setStream("live"));
      es.addEventListener("publication", (e: MessageEvent<string>) => {
        lastId = e.lastEventId || lastId;
        const p = JSON.parse(e.data) as { data: Figures };
        setSamples((prev) => [...prev.filter((s) => s.seq !== p.data.seq || s.at !== p.data.at), p.data].slice(-KEEP));
      });
      es.onerror = () => {
        setStream("reconnecting");
        if (es && es.readyState === EventSource.CLOSED) {
          es.close();
          retry = setTimeout(() => void open(), 2000);
        }
      };
    };
    void open();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      es?.close();
    };
  }, [heraldUrl]);
  return { samples, stream };
}

function Sparkline({ values }: { values: number[] }) {
  if (values.length < 2) return <svg className="spark" viewBox="0 0 100 30" aria-hidden="true" />;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const pts = values.map((v, i) => `${((i / (values.length - 1)) * 100).toFixed(1)},${(28 - ((v - min) / span) * 26).toFixed(1)}`);
  return (
    <svg className="spark" viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true">
      <polyline points={pts.join(" ")} fill="none" stroke="currentColor" strokeWidth="1.5" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}

/** One live figure: its latest value and a sparkline of the recent samples. */
function FigureCard({
  label,
  testId,
  samples,
  pick,
}: {
  label: string;
  testId: string;
  samples: Figures[];
  pick: (f: Figures) => number;
}) {
  const last = samples.at(-1);
  return (
    <section className="card figure" aria-label={label}>
      <h3>{label}</h3>
      <p className="big" data-testid={testId}>
        {last ? pick(last) : "–"}
      </p>
      <Sparkline values={samples.map(pick)} />
    </section>
  );
}

function Viewers() {
  const me = useMe();
  const { members } = usePresence<UserInfo>(DASH_VIEWERS_CHANNEL);
  return (
    <section className="card viewers" aria-label="Who's viewing">
      <h3>Who&apos;s viewing — {members.length}</h3>
      <ul data-testid="viewers">
        {members.map((m) => (
          <li key={m.user ?? m.client}>
            <span className="avatar" aria-hidden="true">
              {(m.info?.name ?? "?").slice(0, 1).toUpperCase()}
            </span>
            {m.info?.name ?? m.user}
            {m.user === me.id ? <span className="muted"> (you)</span> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function LiveDashboard({ heraldUrl, initial }: { heraldUrl: string; initial: Figures[] }) {
  const { samples, stream } = useFigures(heraldUrl, initial);
  const last = samples[samples.length - 1];
  const maxRoom = Math.max(1, ...ROOMS.map((r) => last?.rooms[r.id] ?? 0));
  return (
    <div className="dashboard">
      <header className="dash-header">
        <h2>Live dashboard</h2>
        <span className={`pill pill-${stream}`} data-testid="stream-state">
          {stream === "live" ? "● Live" : stream === "connecting" ? "Connecting…" : "Reconnecting…"}
        </span>
        <span className="muted" data-testid="sample">
          {last ? (
            <>
              sample #{last.seq} at <LocalTime ms={last.at} seconds />
            </>
          ) : (
            "waiting for the first sample…"
          )}
        </span>
      </header>
      <div className="cards">
        <FigureCard label="Messages stored" testId="figure-messages" samples={samples} pick={(f) => f.messages} />
        <FigureCard label="Online now" testId="figure-online" samples={samples} pick={(f) => f.online} />
        <FigureCard
          label="Notifications sent"
          testId="figure-notifications"
          samples={samples}
          pick={(f) => f.notifications}
        />
        <section className="card rooms-card" aria-label="Messages per room">
          <h3>Messages per room</h3>
          <ul className="bars">
            {ROOMS.map((r) => {
              const n = last?.rooms[r.id] ?? 0;
              return (
                <li key={r.id}>
                  <span className="bar-label"># {r.title}</span>
                  <span className="bar">
                    <span className="bar-fill" style={{ width: `${(n / maxRoom) * 100}%` }} />
                  </span>
                  <span className="bar-value">{n}</span>
                </li>
              );
            })}
          </ul>
        </section>
        <Viewers />
      </div>
    </div>
  );
}
