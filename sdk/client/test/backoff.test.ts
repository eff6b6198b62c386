/**
 * Timing behaviour with fake timers. The transport here is a scripted stub:
 * these tests check the client's clocks (back-off, liveness), which a real
 * server cannot drive deterministically. Everything else runs against herald.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  backoffCeiling,
  backoffDelay,
  Herald,
  HeraldError,
  type ReconnectingEvent,
  type TransportFactory,
  type TransportHandlers,
} from "@herald/client";

interface Script {
  /** Refuse the socket (close 1006) instead of opening it. */
  refuse?: boolean;
  connectResult?: Record<string, unknown>;
}

function scripted(script: () => Script) {
  const log = { opens: 0, sent: [] as string[], handlers: [] as TransportHandlers[] };
  const factory: TransportFactory = (_url, h) => {
    log.opens++;
    log.handlers.push(h);
    const s = script();
    setTimeout(() => (s.refuse ? h.onClose(1006, "refused") : h.onOpen()), 0);
    return {
      send(frame) {
        log.sent.push(frame);
        const m = JSON.parse(frame) as { id?: number; op: string };
        if (m.op === "connect") {
          const result = s.connectResult ?? { client: "c1", version: "t", ping_interval_ms: 1000, pong_timeout_ms: 500 };
          setTimeout(() => h.onMessage(JSON.stringify({ id: m.id, result })), 0);
        }
      },
      close() {},
    };
  };
  return { log, factory };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("back-off schedule", () => {
  it("ceilings follow min·2^attempt capped at max (250 ms … 30 s)", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 20].map((a) => backoffCeiling(a))).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it("full jitter: every delay lies in [0, ceiling)", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(attempt);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(backoffCeiling(attempt));
      }
    }
    expect(backoffDelay(3, { random: () => 0 })).toBe(0);
  });

  it("the client waits exactly the scheduled delays between attempts", async () => {
    const { log, factory } = scripted(() => ({ refuse: true }));
    const c = new Herald({ url: "ws://test/ws", transport: factory, reconnect: { random: () => 0.5 } });
    const events: (ReconnectingEvent & { at: number })[] = [];
    c.on("reconnecting", (e) => events.push({ ...e, at: Date.now() }));
    const opens: number[] = [];
    const count = () => {
      while (opens.length < log.opens) opens.push(Date.now());
    };
    c.connect();
    const expected = [125, 250, 500, 1000, 2000, 4000, 8000, 15000, 15000];
    for (let t = 0; t < 47_000; t += 1) {
      await vi.advanceTimersByTimeAsync(1);
      count();
    }
    for (let i = 0; i < expected.length; i++) {
      expect(events[i].delayMs).toBe(expected[i]);
      expect(events[i].attempt).toBe(i);
      // The next attempt opens exactly `delay` after the previous one failed.
      expect(opens[i + 1] - events[i].at).toBe(expected[i]);
    }
    expect(c.state).toBe("reconnecting");
    c.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resets the attempt counter after a successful connect", async () => {
    let refuse = true;
    const { factory, log } = scripted(() => ({ refuse }));
    const c = new Herald({ url: "ws://test/ws", transport: factory, reconnect: { random: () => 0.999 } });
    const events: ReconnectingEvent[] = [];
    c.on("reconnecting", (e) => events.push(e));
    c.connect();
    await vi.advanceTimersByTimeAsync(1000);
    refuse = false;
    await vi.advanceTimersByTimeAsync(5000);
    expect(c.state).toBe("connected");
    log.handlers[log.handlers.length - 1].onClose(4000, "shutdown");
    expect(events[events.length - 1]).toMatchObject({ attempt: 0, code: 4000, delayMs: 249 });
    c.close();
  });
});

describe("close codes and liveness", () => {
  it("close code >= 4500 stops reconnecting and surfaces the error", async () => {
    const { log, factory } = scripted(() => ({}));
    const c = new Herald({ url: "ws://test/ws", transport: factory });
    const errors: HeraldError[] = [];
    c.on("error", (e) => errors.push(e));
    const pending = c.publish("chat:a", 1).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5);
    expect(c.state).toBe("connected");
    const sub = c.channel("chat:b").subscribe().catch((e: unknown) => e); // never answered by the stub
    log.handlers[0].onClose(4501, "unauthorized, do not reconnect");
    expect(((await sub) as HeraldError).code).toBe(4501);
    expect(c.state).toBe("offline");
    expect(errors[0]).toMatchObject({ code: 4501, temporary: false });
    expect(((await pending) as HeraldError).code).toBe(4501);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.opens).toBe(1);
    c.close();
  });

  it("4004 token expired: fetches a new token and reconnects at once", async () => {
    const { log, factory } = scripted(() => ({}));
    let n = 0;
    const c = new Herald({ url: "ws://test/ws", transport: factory, getToken: async () => `tok-${++n}` });
    c.connect();
    await vi.advanceTimersByTimeAsync(5);
    expect(JSON.parse(log.sent[0]).token).toBe("tok-1");
    log.handlers[0].onClose(4004, "token expired");
    await vi.advanceTimersByTimeAsync(5);
    expect(log.opens).toBe(2);
    expect(c.state).toBe("connected");
    expect(JSON.parse(log.sent[log.sent.length - 1]).token).toBe("tok-2");
    c.close();
  });

  it("answers ping with pong and reconnects when the server goes silent", async () => {
    const { log, factory } = scripted(() => ({}));
    const c = new Herald({ url: "ws://test/ws", transport: factory, reconnect: { random: () => 0 } });
    const events: ReconnectingEvent[] = [];
    c.on("reconnecting", (e) => events.push(e));
    c.connect();
    await vi.advanceTimersByTimeAsync(5);
    await vi.advanceTimersByTimeAsync(1400);
    log.handlers[0].onMessage('{"push":"ping"}');
    expect(log.sent[log.sent.length - 1]).toBe('{"op":"pong"}');
    await vi.advanceTimersByTimeAsync(1400); // the ping reset the clock
    expect(events).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(200); // 1500 ms = ping_interval + pong_timeout of silence
    expect(events[0]).toMatchObject({ code: 4002 });
    c.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("re-sends an unacknowledged publish after a reconnect with the same idempotency key", async () => {
    const { log, factory } = scripted(() => ({}));
    const c = new Herald({ url: "ws://test/ws", transport: factory, reconnect: { random: () => 0 } });
    c.connect();
    await vi.advanceTimersByTimeAsync(5);
    const p = c.publish("chat:a", { n: 1 });
    const publishes = () =>
      log.sent.map((f) => JSON.parse(f) as { op: string; id: number; idempotency_key?: string }).filter((f) => f.op === "publish");
    expect(publishes()).toHaveLength(1);
    log.handlers[0].onClose(1006, "dropped before the ack");
    await vi.advanceTimersByTimeAsync(5);
    expect(c.state).toBe("connected");
    const [first, resent] = publishes();
    expect(resent.idempotency_key).toBe(first.idempotency_key);
    log.handlers[1].onMessage(JSON.stringify({ id: resent.id, result: { epoch: "e", offset: 7 } }));
    await expect(p).resolves.toEqual({ epoch: "e", offset: 7, idempotencyKey: first.idempotency_key });
    c.close();
  });

  it("4004 without getToken cannot refresh: goes offline instead of looping", async () => {
    const { log, factory } = scripted(() => ({}));
    const c = new Herald({ url: "ws://test/ws", transport: factory, token: "static" });
    c.connect();
    await vi.advanceTimersByTimeAsync(5);
    log.handlers[0].onClose(4004, "token expired");
    expect(c.state).toBe("offline");
    const err = await c.publish("chat:a", 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 4004, temporary: false });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.opens).toBe(1);
    c.connect(); // the app got a new token some other way
    await vi.advanceTimersByTimeAsync(5);
    expect(c.state).toBe("connected");
    c.close();
  });

  it("gives up on an attempt that never opens after connectTimeoutMs", async () => {
    let opens = 0;
    const hanging: TransportFactory = () => {
      opens++;
      return { send() {}, close() {} };
    };
    const c = new Herald({ url: "ws://test/ws", transport: hanging, connectTimeoutMs: 2000, reconnect: { random: () => 0 } });
    const events: ReconnectingEvent[] = [];
    c.on("reconnecting", (e) => events.push(e));
    c.connect();
    await vi.advanceTimersByTimeAsync(1999);
    expect(events).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(events[0]).toMatchObject({ code: 4002, reason: "no connection within 2000 ms" });
    await vi.advanceTimersByTimeAsync(1);
    expect(opens).toBe(2);
    c.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
