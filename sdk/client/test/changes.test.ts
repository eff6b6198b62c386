// The client-side reading of change feed row filters (docs/changes.md): the
// server filters; the client uses the same syntax only to see a row leave a
// filtered set (useTable). Pure functions: no server needed.
import { describe, expect, it } from "vitest";
import { decodeChange, rowMatches } from "@herald/client";

describe("rowMatches", () => {
  const row = { id: 7, list_id: "12", status: "in progress", done: true, deleted_at: null };
  it.each([
    ["id=eq.7", true],
    ["id=neq.7", false],
    ["id=lt.10", true],
    ["id=gte.8", false],
    ["list_id=eq.12", true], // numeric/int8 sent as a string compares as a number
    ["list_id=gt.9", true],
    ['status=in.(open,"in progress")', true],
    ["status=in.(open,done)", false],
    ["done=eq.true", true],
    ["deleted_at=is.null", true],
    ["deleted_at=eq.1", false], // NULL passes neither eq nor neq
    ["missing=eq.1", false], // a column absent from the row passes nothing
    [undefined, true],
  ])("%s → %s", (filter, expected) => {
    expect(rowMatches(filter, row)).toBe(expected);
  });
});

describe("decodeChange", () => {
  const base = { channel: "db:public.t", epoch: "e", offset: 3, time: 0 };
  it("reads a change and ignores other publications", () => {
    const c = decodeChange({
      ...base,
      data: { type: "UPDATE", schema: "public", table: "t", commit_timestamp: "2026-12-02T00:00:00Z", columns: [{ name: "id", type: "int4" }], new: { id: 1 }, old: { id: 1 }, unchanged: ["big"] },
    });
    expect(c).toMatchObject({ type: "UPDATE", offset: 3, new: { id: 1 }, unchanged: ["big"] });
    expect(decodeChange({ ...base, data: { event: "x", data: 1 } })).toBeUndefined();
    expect(decodeChange({ ...base, data: { type: "UPSERT", schema: "s", table: "t", columns: [] } })).toBeUndefined();
  });
});
