import { afterEach, describe, expect, inject, it } from "vitest";
import { createOptimisticList, Herald, HeraldError, type OptimisticItem } from "@herald/client";
import { until } from "../../test-support/herald.js";

const wsUrl = inject("heraldWsUrl");
const clients: Herald[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
const uniq = (ns: string) => `${ns}:o-${Math.random().toString(36).slice(2, 10)}`;

describe("createOptimisticList", () => {
  it("shows a publish as pending, then reconciles it with the server's copy (once)", async () => {
    const c = new Herald({ url: wsUrl });
    const other = new Herald({ url: wsUrl });
    clients.push(c, other);
    const name = uniq("chat");
    const ch = c.channel<{ text: string }>(name);
    const list = createOptimisticList(ch);
    await ch.subscribe();

    const p = list.publish({ text: "mine" });
    const snap = list.getSnapshot();
    expect(snap).toHaveLength(1);
    expect(snap[0]).toMatchObject({ status: "pending", data: { text: "mine" } });
    const ack = await p;
    await other.publish(name, { text: "theirs" });
    await until(() => list.getSnapshot().length === 2 && list.getSnapshot().every((i) => i.publication), 5000, "reconciled");
    const items = list.getSnapshot();
    expect(items.map((i) => [i.status, i.data.text, i.offset])).toEqual([
      ["confirmed", "mine", ack.offset],
      ["confirmed", "theirs", ack.offset + 1],
    ]);
    expect(items[0].key).toBe(ack.idempotencyKey);
    list.dispose();
  });

  it("rolls a refused publish back with the server's error", async () => {
    const c = new Herald({ url: wsUrl });
    clients.push(c);
    const rolledBack: [OptimisticItem<string>, HeraldError][] = [];
    const list = createOptimisticList(c.channel<string>(uniq("readonly")), {
      onRollback: (item, err) => rolledBack.push([item, err]),
    });
    const seen: number[] = [];
    list.subscribe(() => seen.push(list.getSnapshot().length));
    const err = await list.publish("nope").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeraldError);
    expect((err as HeraldError).code).toBe(103);
    expect(seen).toEqual([1, 0]); // shown at once, then removed
    expect(rolledBack[0][0].data).toBe("nope");

    const keep = createOptimisticList(c.channel<string>(uniq("readonly")), { keepFailed: true });
    await keep.publish("nope").catch(() => {});
    expect(keep.getSnapshot()[0]).toMatchObject({ status: "failed", error: { code: 103 } });
  });
});
