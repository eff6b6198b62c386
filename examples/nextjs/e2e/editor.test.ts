// End-to-end: the collaborative editor (/docs/[id]). Two people (two browser
// contexts) type into the same document at once over their one Herald
// connection (@herald/yjs's HeraldYjsProvider, CodeMirror 6 +
// y-codemirror.next). Every assertion is on what the pages show, or on what
// Herald stored.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Stack, sleep, waitFor } from "./harness";

const stack = new Stack();
let alice: Page;
let bob: Page;
const DOC = "doc:notes";
/** Herald WebSockets per user (the app's one client connection, which also carries the document): open now, and the most open at once. */
const heraldSockets = new Map<string, { open: number; max: number; yjsDoor: number }>();

function countHeraldSockets(user: string, page: Page): void {
  const s = { open: 0, max: 0, yjsDoor: 0 };
  heraldSockets.set(user, s);
  // Playwright reports no close for the sockets of a page being reloaded or
  // left: a new document (a navigation request of the main frame) ends them.
  const live = new Set<object>();
  page.on("request", (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) live.clear();
    s.open = live.size;
  });
  page.on("websocket", (ws) => {
    if (!ws.url().startsWith(stack.herald.url.replace(/^http/, "ws"))) return;
    // A socket to the y-websocket door would be a second connection: the editor must not open one.
    if (ws.url().includes("/yjs/")) s.yjsDoor++;
    live.add(ws);
    s.open = live.size;
    s.max = Math.max(s.max, s.open);
    ws.on("close", () => {
      live.delete(ws);
      s.open = live.size;
    });
  });
}

beforeAll(async () => {
  await stack.start();
  alice = await stack.signIn("Alice");
  bob = await stack.signIn("Bob");
  countHeraldSockets("Alice", alice);
  countHeraldSockets("Bob", bob);
});

afterAll(async () => {
  await stack.stop();
});

/** The editor's text as the user reads it: its lines, without the remote carets' name labels. */
async function editorText(page: Page): Promise<string> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll("[data-testid=doc-editor] .cm-line"))
      .map((line) => {
        const copy = line.cloneNode(true) as HTMLElement;
        copy.querySelectorAll(".cm-ySelectionCaret, .cm-widgetBuffer, .cm-placeholder").forEach((e) => e.remove());
        return copy.textContent ?? "";
      })
      .join("\n"),
  );
}

async function synced(page: Page): Promise<void> {
  await waitFor("the document synced", async () => (await page.getByTestId("doc-status").getAttribute("data-state")) === "synced", 30_000);
}

/** The names on the remote carets drawn in this page's editor. */
async function caretNames(page: Page): Promise<string[]> {
  return page.locator("[data-testid=doc-editor] .cm-ySelectionInfo").allInnerTexts();
}

/** Herald's copy of the document (HTTP API, JSON roots). */
async function storedText(): Promise<string> {
  const r = await fetch(`${stack.herald.url}/api/docs/${DOC}?format=json`, {
    headers: { authorization: `Bearer ${stack.apiKey}` },
  });
  const j = (await r.json()) as { roots: { body?: string } };
  return j.roots.body ?? "";
}

async function sameText(what: string, check: (text: string) => boolean): Promise<string> {
  let last = "";
  await waitFor(what, async () => {
    const [a, b] = [await editorText(alice), await editorText(bob)];
    last = `Alice: ${JSON.stringify(a)} / Bob: ${JSON.stringify(b)}`;
    return a === b && check(a);
  }, 30_000).catch((e: unknown) => {
    throw new Error(`${String(e)}; ${last}`);
  });
  return editorText(alice);
}

it("both open the document from the navigation and see each other in it", async () => {
  for (const page of [alice, bob]) {
    await page.click("nav >> text=Docs");
    await page.waitForURL("**/docs/notes");
    await synced(page);
  }
  for (const page of [alice, bob]) {
    await waitFor("both listed in the document", async () => {
      const names = await page.locator("[data-testid=doc-person] .doc-person-name").allInnerTexts();
      return names.join(",") === "Alice,Bob";
    });
  }
  // Herald lists both as viewing the document too (presence of doc:*).
  const r = await fetch(`${stack.herald.url}/api/presence/${DOC}`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  const members = ((await r.json()) as { members: { user?: string }[] }).members.map((m) => m.user).sort();
  expect(members).toEqual(["alice", "bob"]);
});

it("typing at the same time in two places: both end with the same text, holding both users' words", async () => {
  await alice.click("[data-testid=doc-editor] .cm-content");
  await alice.keyboard.type("Agenda\n");
  await sameText("Alice's first line on both", (t) => t === "Agenda\n");
  // Alice writes at the end, Bob at the start, both at once, key by key.
  await alice.click("[data-testid=doc-editor] .cm-content");
  await alice.keyboard.press("Control+End");
  await bob.click("[data-testid=doc-editor] .cm-content");
  await bob.keyboard.press("Control+Home");
  const aliceWords = "1. Alice: ship the editor on Friday";
  const bobWords = "Release sync, notes by Bob\n";
  await Promise.all([alice.keyboard.type(aliceWords, { delay: 25 }), bob.keyboard.type(bobWords, { delay: 25 })]);
  const text = await sameText("the same text with both users' words", (t) => t.includes(aliceWords) && t.includes(bobWords));
  expect(text).toBe(`${bobWords}Agenda\n${aliceWords}`);
  await waitFor("Herald's copy to be the same", async () => (await storedText()) === text);
});

it("each sees the other's cursor and selection with their name and colour", async () => {
  await waitFor("Bob's caret in Alice's editor", async () => (await caretNames(alice)).includes("Bob"));
  await waitFor("Alice's caret in Bob's editor", async () => (await caretNames(bob)).includes("Alice"));
  // Nobody sees a caret of their own.
  expect(await caretNames(alice)).not.toContain("Alice");
  expect(await caretNames(bob)).not.toContain("Bob");
  const bobCaret = alice.locator(".cm-ySelectionCaret", { has: alice.locator(".cm-ySelectionInfo", { hasText: "Bob" }) });
  expect(await bobCaret.locator(".cm-ySelectionInfo").isVisible()).toBe(true);
  const aliceCaret = bob.locator(".cm-ySelectionCaret", { has: bob.locator(".cm-ySelectionInfo", { hasText: "Alice" }) });
  expect(await bobCaret.evaluate((e) => getComputedStyle(e).backgroundColor)).not.toBe(
    await aliceCaret.evaluate((e) => getComputedStyle(e).backgroundColor),
  );
  // Bob selects "Release sync": Alice sees the selection highlighted.
  await bob.click("[data-testid=doc-editor] .cm-content");
  await bob.keyboard.press("Control+Home");
  for (let i = 0; i < "Release sync".length; i++) await bob.keyboard.press("Shift+ArrowRight");
  await waitFor("Bob's selection in Alice's editor", async () =>
    (await alice.locator("[data-testid=doc-editor] .cm-ySelection").allInnerTexts()).join("") === "Release sync",
  );
  await alice.click("[data-testid=doc-editor] .cm-content");
  await alice.keyboard.press("Control+End");
  await waitFor("Alice's caret in Bob's editor", async () => (await caretNames(bob)).includes("Alice"));
  await sleep(300);
  await stack.screenshot(alice, "editor");
});

it("typing at the same time at the same place: both converge, nobody's keystrokes lost", async () => {
  await alice.click("[data-testid=doc-editor] .cm-content");
  await alice.keyboard.press("Control+End");
  await alice.keyboard.press("Enter");
  const before = await sameText("a new line on both", (t) => t.endsWith("\n"));
  // Both carets at the very end, then both type there at once.
  for (const page of [alice, bob]) {
    await page.click("[data-testid=doc-editor] .cm-content");
    await page.keyboard.press("Control+End");
  }
  await Promise.all([alice.keyboard.type("aaaaaaaaaa", { delay: 20 }), bob.keyboard.type("bbbbbbbbbb", { delay: 20 })]);
  const after = await sameText("both users' keystrokes on both", (t) => t.length === before.length + 20);
  const count = (t: string, c: string) => t.split("").filter((x) => x === c).length;
  expect(after.startsWith(before)).toBe(true);
  expect(count(after, "a") - count(before, "a")).toBe(10);
  expect(count(after, "b") - count(before, "b")).toBe(10);
  await waitFor("Herald's copy to be the same", async () => (await storedText()) === after);
});

it("a reload gets the text back from Herald, and so does a fresh page after Herald was killed", async () => {
  const text = await editorText(alice);
  await bob.reload();
  await synced(bob);
  await waitFor("the text after Bob's reload", async () => (await editorText(bob)) === text);

  // Nobody has the document open; Herald dies (SIGKILL) and comes back on the same data.
  for (const page of [alice, bob]) {
    await page.click("nav >> text=Dashboard");
    await page.waitForURL("**/dashboard");
  }
  // Leaving the page closes the document (its awareness with it), and Herald's presence of it empties.
  await waitFor("nobody in the document", async () => {
    const r = await fetch(`${stack.herald.url}/api/presence/${DOC}`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
    return ((await r.json()) as { members: unknown[] }).members.length === 0;
  });
  await stack.killHerald();
  await stack.restartHerald();
  await bob.goto(`${stack.next.url}/docs/notes`);
  await synced(bob);
  await waitFor("the text after Herald's restart", async () => (await editorText(bob)) === text);
  expect(await storedText()).toBe(text);
});

it("the document rides the one Herald socket per page (no /yjs socket), no hydration warnings or uncaught errors", async () => {
  for (const user of ["Alice", "Bob"]) expect(heraldSockets.get(user)).toMatchObject({ max: 1, yjsDoor: 0 });
  expect(stack.problems).toEqual([]);
});
