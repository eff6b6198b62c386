import { heraldServer } from "./herald-server";
import { METRICS_CHANNEL, ONLINE_CHANNEL, ROOMS, roomChannel } from "./rooms";
import type { Figures } from "./types";
import { notificationsSent } from "./process-memory";

// The dashboard's server-side producer: once a second it reads live figures
// from Herald's HTTP API and publishes them to metrics:live, which browsers
// follow over Server-Sent Events. Started once per server process by
// instrumentation.ts.

const PERIOD_MS = Number(process.env.DASHBOARD_PERIOD_MS ?? 1000);
const g = globalThis as { __heraldProducer?: ReturnType<typeof setInterval> };

async function sample(seq: number): Promise<Figures> {
  const herald = heraldServer();
  const [rooms, online] = await Promise.all([
    Promise.all(ROOMS.map((r) => herald.channel(roomChannel(r.id)))),
    herald.presence(ONLINE_CHANNEL),
  ]);
  const perRoom: Record<string, number> = {};
  ROOMS.forEach((r, i) => {
    perRoom[r.id] = rooms[i]?.offset ?? 0;
  });
  return {
    seq,
    at: Date.now(),
    messages: Object.values(perRoom).reduce((a, b) => a + b, 0),
    online: online.length,
    notifications: notificationsSent(),
    rooms: perRoom,
  };
}

export function startProducer(): void {
  if (g.__heraldProducer) return;
  let seq = 0;
  let busy = false;
  let failing = false;
  g.__heraldProducer = setInterval(() => {
    if (busy) return;
    busy = true;
    sample(seq + 1)
      .then((f) => heraldServer().publish(METRICS_CHANNEL, f))
      .then(
        () => {
          seq++;
          if (failing) console.info("[dashboard producer] publishing again");
          failing = false;
        },
        (e: unknown) => {
          if (!failing) console.warn(`[dashboard producer] Herald unavailable, retrying: ${String(e)}`);
          failing = true;
        },
      )
      .finally(() => {
        busy = false;
      });
  }, PERIOD_MS);
  g.__heraldProducer.unref?.();
}
