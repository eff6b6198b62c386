// @vitest-environment jsdom
/** Browser-only behaviour (jsdom): immediate retry on `online` and on the page becoming visible. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Herald, type TransportFactory } from "@herald/client";

function refusing() {
  const log = { opens: 0 };
  const factory: TransportFactory = (_url, h) => {
    log.opens++;
    setTimeout(() => h.onClose(1006, "refused"), 0);
    return { send() {}, close() {} };
  };
  return { log, factory };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("browser events", () => {
  it("retries at once on `online` instead of waiting for the back-off", async () => {
    const { log, factory } = refusing();
    const c = new Herald({ url: "ws://test/ws", transport: factory, reconnect: { minDelayMs: 10_000, random: () => 0.99 } });
    c.connect();
    await vi.advanceTimersByTimeAsync(1);
    expect(log.opens).toBe(1);
    expect(c.state).toBe("reconnecting");
    window.dispatchEvent(new Event("online"));
    await vi.advanceTimersByTimeAsync(1);
    expect(log.opens).toBe(2);
    c.close();
    window.dispatchEvent(new Event("online")); // listeners removed by close()
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.opens).toBe(2);
  });

  it("retries at once when the page becomes visible", async () => {
    const { log, factory } = refusing();
    const c = new Herald({ url: "ws://test/ws", transport: factory, reconnect: { minDelayMs: 10_000, random: () => 0.99 } });
    c.connect();
    await vi.advanceTimersByTimeAsync(1);
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(1);
    expect(log.opens).toBe(2);
    c.close();
  });
});
