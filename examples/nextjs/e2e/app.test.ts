// End-to-end: two people (two browser contexts) use the app against a real
// Herald. Every assertion is on what the page shows.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Stack, message, messageTexts, send, sleep, waitFor } from "./harness";

const stack = new Stack();
let alice: Page;
let bob: Page;
const run = Date.now().toString(36);

beforeAll(async () => {
  await stack.start();
  alice = await stack.signIn("Alice");
  bob = await stack.signIn("Bob");
});

afterAll(async () => {
  await stack.stop();
});

async function openRoom(page: Page, room: string): Promise<void> {
  await page.click(`[data-testid=room-${room}]`);
  await page.waitForURL(`**/chat/${room}`);
}

describe("chat", () => {
  it("A sends, B sees it; A's message goes from pending to confirmed", async () => {
    const text = `hello from Alice ${run}`;
    await send(alice, text);
    await message(alice, text).waitFor();
    await message(bob, text).waitFor({ timeout: 10_000 });
    expect(await message(bob, text).locator(".msg-author").innerText()).toBe("Alice");
    // Confirmed by the server: the "Sending…" label is replaced by the time.
    await waitFor("Alice's message to be confirmed", async () => {
      const status = await message(alice, text).locator(".msg-status").innerText();
      return status !== "Sending…" && status !== "Queued" && status !== "";
    });
    expect(await message(alice, text).count()).toBe(1);
    expect(await message(bob, text).count()).toBe(1);
  });

  it("history is in the server-rendered HTML (first paint) and pages back on scroll", async () => {
    // The last message is in the HTML of the page, before any JavaScript runs.
    const html = await (await bob.context().request.get(`${stack.next.url}/chat/general`)).text();
    expect(html).toContain(`hello from Alice ${run}`);

    for (let i = 1; i <= 45; i++) await stack.publish("room:dev", { text: `dev note ${i}`, name: "Bot", user: "bot" });
    await openRoom(bob, "dev");
    await message(bob, "dev note 45").waitFor();
    let texts = await messageTexts(bob);
    expect(texts).not.toContain("dev note 1");
    expect(texts.length).toBeLessThan(45);
    // Scrolling to the top loads older pages until the first message.
    await waitFor(
      "the first message after scrolling up",
      async () => {
        await bob.locator("[data-testid=messages]").evaluate((el) => {
          el.scrollTop = 0;
        });
        return (await messageTexts(bob)).includes("dev note 1");
      },
      20_000,
    );
    texts = await messageTexts(bob);
    const notes = texts.filter((t) => t.startsWith("dev note "));
    expect(notes).toEqual(Array.from({ length: 45 }, (_, i) => `dev note ${i + 1}`));
    await openRoom(bob, "general");
  });

  it("B types, A sees the indicator, and it goes away", async () => {
    const indicator = alice.getByTestId("typing");
    expect(await indicator.innerText()).toBe("");
    await bob.click("[data-testid=composer]");
    await bob.keyboard.type("I am typ", { delay: 50 });
    await waitFor("Bob typing, for Alice", async () => (await indicator.innerText()) === "Bob is typing…");
    // Bob stops (clears the field without sending): Herald ends it after typing_timeout_ms (5 s).
    await bob.fill("[data-testid=composer]", "");
    await waitFor("the indicator to go", async () => (await indicator.innerText()) === "", 15_000);
    // Sending ends it at once, too.
    await bob.keyboard.type("typing then sending", { delay: 30 });
    await waitFor("Bob typing again", async () => (await indicator.innerText()) === "Bob is typing…");
    await bob.press("[data-testid=composer]", "Enter");
    await message(alice, "typing then sending").waitFor();
    await waitFor("the indicator to go after the message", async () => (await indicator.innerText()) === "", 3_000);
  });

  it("both appear online with their status, and one leaving is seen", async () => {
    const online = (p: Page) => p.locator("[data-testid=online-users] .online-name").allInnerTexts();
    const bobStatus = () => alice.locator("[data-testid=online-users] li[data-user=bob] .status-label").innerText();
    await waitFor("Alice and Bob online for Alice", async () => {
      const names = await online(alice);
      return names.includes("Alice") && names.includes("Bob");
    });
    await waitFor("Alice and Bob online for Bob", async () => {
      const names = await online(bob);
      return names.includes("Alice") && names.includes("Bob");
    });
    // No input from Bob for 3 s (IDLE_AFTER_MS in this run): idle; moving the mouse: active.
    await waitFor("Bob idle, for Alice", async () => (await bobStatus()) === "idle", 15_000);
    await bob.mouse.move(200, 300);
    await bob.mouse.move(220, 320);
    await waitFor("Bob active again, for Alice", async () => (await bobStatus()) === "active", 5_000);

    const carol = await stack.signIn("Carol");
    await waitFor("Carol online for Alice", async () => (await online(alice)).includes("Carol"));
    await carol.context().close();
    // Herald's presence grace is 3 s; then the leave is pushed.
    await waitFor("Carol gone for Alice", async () => !(await online(alice)).includes("Carol"), 20_000);
    expect(await online(alice)).toEqual(expect.arrayContaining(["Alice", "Bob"]));
  });

  it("unread badge for B while away; B reads, A sees 'seen by'", async () => {
    await openRoom(bob, "random");
    const text = `please read this ${run}`;
    await send(alice, text);
    await waitFor("Alice's message stored", async () => {
      const status = await message(alice, text).locator(".msg-status").innerText();
      return status !== "Sending…" && status !== "Queued" && status !== "";
    });
    await waitFor("the unread badge on General for Bob", async () => {
      const badge = bob.getByTestId("unread-general");
      return (await badge.count()) > 0 && (await badge.innerText()) === "1";
    });
    const seenBy = alice.getByTestId("seen-by");
    await sleep(500);
    expect((await seenBy.count()) === 0 || !(await seenBy.innerText()).includes("Bob")).toBe(true);

    await openRoom(bob, "general");
    await message(bob, text).waitFor();
    await waitFor("'Seen by Bob' for Alice", async () => (await seenBy.count()) > 0 && (await seenBy.innerText()) === "Seen by Bob");
    await waitFor("Bob's badge gone", async () => (await bob.getByTestId("unread-general").count()) === 0);
  });
});

describe("notifications", () => {
  it("a Server Action's notification reaches B as a toast, on the bell and in the center", async () => {
    const bell = bob.getByTestId("bell-count");
    expect(await bell.count()).toBe(0);
    const sendNotification = async (title: string, body: string) => {
      await alice.fill("#to", "Bob");
      await alice.fill("#title", title);
      await alice.fill("#body", body);
      await alice.click("form.notify-form button[type=submit]");
      await waitFor("the Server Action's answer", async () => (await alice.locator("form.notify-form .ok").count()) > 0);
      await alice.locator("form.notify-form .ok", { hasText: "Sent to 1 person." }).waitFor();
    };
    await alice.click("nav >> text=Notifications");
    await alice.waitForURL("**/notifications");

    const first = `Standup in 5 minutes ${run}`;
    await sendNotification(first, "Room General");
    await bob.getByTestId("toast").filter({ hasText: first }).waitFor({ timeout: 10_000 });
    await waitFor("the bell to show 1", async () => (await bell.count()) > 0 && (await bell.innerText()) === "1");

    await bob.click("nav >> text=Notifications");
    await bob.waitForURL("**/notifications");
    const second = `Deploy finished ${run}`;
    await sendNotification(second, "v2 is live");
    await bob.getByTestId("toast").filter({ hasText: second }).waitFor({ timeout: 10_000 });
    await waitFor("the bell to show 2", async () => (await bell.innerText()) === "2");
    const items = bob.getByTestId("notification");
    await waitFor("both in the center, unread", async () => (await items.filter({ hasText: run }).count()) === 2);
    expect(await bob.getByTestId("center-unread").innerText()).toBe("2 unread");
    expect(await items.first().innerText()).toContain(second); // newest first
    await stack.screenshot(bob, "notifications");

    // The browser's permission prompt: a refusal is handled (headless chromium refuses).
    const permission = bob.getByTestId("desktop-permission");
    await bob.click("text=Enable desktop notifications");
    await waitFor("the answer to be shown", async () => !(await permission.innerText()).includes("Enable desktop notifications"));
    expect(await permission.innerText()).toMatch(/blocked in this browser|are on\.|no desktop notifications/);

    await items.filter({ hasText: first }).getByRole("button", { name: "Mark read" }).click();
    await waitFor("the bell to show 1 after mark-read", async () => (await bell.innerText()) === "1");
    expect(await bob.getByTestId("center-unread").innerText()).toBe("1 unread");
    await bob.click("text=Mark all read");
    await waitFor("the bell to go", async () => (await bell.count()) === 0);
    expect(await bob.getByTestId("center-unread").innerText()).toBe("0 unread");
    // No "Mark read" left on either.
    expect(await items.filter({ hasText: run }).getByRole("button", { name: "Mark read" }).count()).toBe(0);

    await bob.click("nav >> text=Chat");
    await bob.waitForURL("**/chat/general");
    await alice.click("nav >> text=Chat");
    await alice.waitForURL("**/chat/general");
  });
});

describe("dashboard", () => {
  it("shows live figures over SSE and who's viewing", async () => {
    await alice.click("nav >> text=Dashboard");
    await alice.waitForURL("**/dashboard");
    await waitFor("the stream to be live", async () => (await alice.getByTestId("stream-state").innerText()).includes("Live"));
    const sample = async () => Number(/#(\d+)/.exec(await alice.getByTestId("sample").innerText())?.[1] ?? NaN);
    const first = await waitFor("a sample", async () => {
      const n = await sample();
      return Number.isFinite(n) ? n : null;
    });
    await waitFor("a newer sample", async () => (await sample()) > first);

    const before = Number(await alice.getByTestId("figure-messages").innerText());
    await send(bob, `a message for the dashboard ${run}`);
    await waitFor("the message count to go up", async () => Number(await alice.getByTestId("figure-messages").innerText()) > before);

    // The two notifications sent by the Server Action above are counted.
    await waitFor("the notifications sent", async () => Number(await alice.getByTestId("figure-notifications").innerText()) >= 2);

    const viewers = () => alice.locator("[data-testid=viewers] li").allInnerTexts();
    await waitFor("Alice viewing", async () => (await viewers()).some((v) => v.includes("Alice")));
    await bob.click("nav >> text=Dashboard");
    await bob.waitForURL("**/dashboard");
    await waitFor("Bob viewing too", async () => (await viewers()).some((v) => v.includes("Bob")));
    await stack.screenshot(alice, "dashboard");
    await bob.click("nav >> text=Chat");
    await bob.waitForURL("**/chat/general");
    await waitFor("Bob gone from the viewers", async () => !(await viewers()).some((v) => v.includes("Bob")), 20_000);
    await alice.click("nav >> text=Chat");
    await alice.waitForURL("**/chat/general");
  });
});

describe("connection loss", () => {
  it("the browser goes offline: banner, the message waits as queued, delivered once when back", async () => {
    const banner = alice.getByTestId("connection-banner");
    const text = `sent while offline ${run}`;
    await stack.setOffline(alice, true);
    await waitFor("the offline banner", async () => (await banner.count()) > 0 && (await banner.innerText()).startsWith("You are offline."));
    await send(alice, text);
    await waitFor("the queued count", async () => (await banner.innerText()).includes("1 message queued"));
    expect(await message(alice, text).locator(".msg-status").innerText()).toBe("Queued");
    await sleep(1000);
    expect(await message(bob, text).count()).toBe(0);
    await stack.setOffline(alice, false);
    await waitFor("the banner to go", async () => (await banner.count()) === 0, 30_000);
    await message(bob, text).waitFor({ timeout: 30_000 });
    await waitFor("the message confirmed", async () => {
      const s = await message(alice, text).locator(".msg-status").innerText();
      return s !== "Queued" && s !== "Sending…";
    });
    await sleep(500);
    expect(await message(bob, text).count()).toBe(1);
    expect(await message(alice, text).count()).toBe(1);
  });

  it("Herald killed and restarted while A sends: banner, queued message delivered once, nothing lost", async () => {
    const banner = alice.getByTestId("connection-banner");
    const queuedText = `sent while Herald was down ${run}`;
    await message(bob, `hello from Alice ${run}`).waitFor();

    await stack.killHerald();
    await waitFor("the reconnecting banner", async () => (await banner.count()) > 0 && (await banner.innerText()).includes("Reconnecting"));
    await send(alice, queuedText);
    await message(alice, queuedText).waitFor();
    await waitFor("the queued count", async () => (await banner.innerText()).includes("1 message queued"));
    expect(await message(alice, queuedText).locator(".msg-status").innerText()).toBe("Queued");
    const bobBanner = bob.getByTestId("connection-banner");
    await waitFor("Bob's reconnecting banner", async () => (await bobBanner.count()) > 0 && (await bobBanner.innerText()).includes("Reconnecting"));
    await stack.screenshot(alice, "reconnecting");
    // A few seconds down: the clients' back-off grows, so the publications below
    // most likely land before they are back and reach them by recovery.
    await sleep(3000);

    await stack.restartHerald();
    // Published by the back end right after the restart, while the browsers are still reconnecting.
    const meanwhile = [1, 2, 3].map((i) => `published meanwhile ${i} ${run}`);
    for (const text of meanwhile) await stack.publish("room:general", { text, name: "Server", user: "server" });

    await waitFor("the banner to go", async () => (await banner.count()) === 0, 60_000);
    for (const text of [queuedText, ...meanwhile]) {
      await message(bob, text).waitFor({ timeout: 30_000 });
      await message(alice, text).waitFor({ timeout: 30_000 });
    }
    await waitFor("the queued message confirmed", async () => {
      const s = await message(alice, queuedText).locator(".msg-status").innerText();
      return s !== "Queued" && s !== "Sending…";
    });
    await sleep(1000);
    for (const page of [alice, bob]) {
      const texts = await messageTexts(page);
      for (const t of [queuedText, ...meanwhile]) expect(texts.filter((x) => x === t)).toHaveLength(1);
    }
    // Stored once, too.
    expect((await stack.storedTexts("room:general")).filter((t) => t === queuedText)).toHaveLength(1);
  });
});

describe("orders without a database", () => {
  it("the page says how to turn the live table on", async () => {
    // Client-side navigation: the browser keeps its one Herald socket (checked below).
    await alice.click("nav >> text=Orders");
    await alice.waitForURL("**/orders");
    const setup = alice.getByTestId("orders-setup");
    await setup.waitFor();
    expect(await setup.innerText()).toContain("DATABASE_URL");
    expect(await setup.innerText()).toContain("herald serve --changes");
    await alice.click("nav >> text=Chat");
    await alice.waitForURL("**/chat/general");
    await alice.getByTestId("composer").waitFor();
  });
});

describe("the pages themselves", () => {
  it("take screenshots, one socket per browser, no hydration warnings or uncaught errors", async () => {
    // The chat as Alice sees it: an unread badge on Random, Bob typing, "seen by".
    await stack.publish("room:random", { text: "lunch?", name: "Carol", user: "carol" });
    await waitFor("the unread badge on Random", async () => (await alice.getByTestId("unread-random").count()) > 0);
    await send(bob, "Got it, thanks!");
    await message(alice, "Got it, thanks!").waitFor();
    await send(alice, "Great, see you at standup");
    await waitFor("'Seen by Bob'", async () => (await alice.getByTestId("seen-by").innerText().catch(() => "")) === "Seen by Bob");
    await bob.click("[data-testid=composer]");
    // Typed over more than a second: the SDK sends at most one `typing` per second, and the
    // one sent while Bob typed his last message was ended by its publish.
    await bob.keyboard.type("On my way, two minutes", { delay: 80 });
    await waitFor("Bob typing", async () => (await alice.getByTestId("typing").innerText()) === "Bob is typing…");
    await stack.screenshot(alice, "chat");
    await bob.fill("[data-testid=composer]", "");
    // Never two Herald WebSockets open at once in one browser, and one open now.
    for (const user of ["Alice", "Bob"]) {
      expect(stack.sockets.get(user)).toEqual({ open: 1, max: 1 });
    }
    expect(stack.problems).toEqual([]);
  });
});
