// End-to-end: the private notes page. A note written in one browser appears,
// decrypted, in another; Herald's own HTTP history holds only ciphertext.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Stack } from "./harness";

const stack = new Stack();
let alice: Page;
let bob: Page;
const run = Date.now().toString(36);

beforeAll(async () => {
  await stack.start();
  alice = await stack.signIn("Alice");
  bob = await stack.signIn("Bob");
  for (const page of [alice, bob]) {
    await page.goto(`${stack.next.url}/notes`);
    await page.getByTestId("note-input").waitFor();
  }
});

afterAll(async () => {
  await stack.stop();
});

const note = (page: Page, text: string) => page.locator("[data-testid=note]", { has: page.locator(".note-text", { hasText: text }) });

describe("private notes (end-to-end encrypted channel)", () => {
  it("a note appears decrypted in the other browser; Herald's history holds only ciphertext", async () => {
    const secret = `diagnosis for case 42, ${run}`;
    await alice.fill("[data-testid=note-input]", secret);
    await alice.click("[data-testid=note-submit]");
    await note(alice, secret).waitFor();
    await note(bob, secret).waitFor({ timeout: 15_000 });
    expect(await note(bob, secret).innerText()).toContain("Alice");
    await note(alice, secret).and(alice.locator("[data-status=confirmed]")).waitFor({ timeout: 15_000 });

    // Herald's HTTP API (with the API key: what the operator can read) has the envelope only.
    const r = await fetch(`${stack.herald.url}/api/history/notes:team?limit=100`, {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(r.status).toBe(200);
    const body = await r.text();
    expect(body).not.toContain(secret);
    expect(body).not.toContain("diagnosis");
    const j = JSON.parse(body) as { publications: { data: Record<string, unknown> }[] };
    expect(j.publications.length).toBeGreaterThan(0);
    for (const p of j.publications) expect(Object.keys(p.data).sort()).toEqual(["ct", "herald_e2e", "iv", "kid"]);

    // A reload reads the history back through the key route and decrypts it.
    await bob.reload();
    await note(bob, secret).waitFor({ timeout: 15_000 });
    await stack.screenshot(bob, "private-notes");
    expect(stack.problems).toEqual([]);
  });

  it("the key route refuses anonymous requests and other channels", async () => {
    const anon = await fetch(`${stack.next.url}/api/channel-keys?channel=notes:team`);
    expect(anon.status).toBe(403);
    const cookies = await alice.context().cookies();
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
    const other = await fetch(`${stack.next.url}/api/channel-keys?channel=room:general`, { headers: { cookie } });
    expect(other.status).toBe(403);
    const mine = await fetch(`${stack.next.url}/api/channel-keys?channel=notes:team`, { headers: { cookie } });
    expect(mine.status).toBe(200);
    const keys = (await mine.json()) as { current: string; keys: { kid: string; key: string }[] };
    expect(keys.keys.map((k) => Buffer.from(k.key, "base64").length)).toEqual([32]);
  });
});
