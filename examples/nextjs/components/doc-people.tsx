"use client";

import type { HeraldYjsProvider } from "@herald/yjs";
import { useEffect, useState } from "react";
import type { DocUser } from "@/lib/use-yjs-room";

function isDocUser(v: unknown): v is DocUser {
  const u = v as Partial<DocUser> | null;
  return !!u && typeof u.id === "string" && typeof u.name === "string" && typeof u.color === "string";
}

/** Everyone with the document open, from the provider's awareness (one entry per user, however many tabs). */
function usePeople(provider: HeraldYjsProvider | null): DocUser[] {
  const [people, setPeople] = useState<DocUser[]>([]);
  useEffect(() => {
    if (!provider) {
      setPeople([]);
      return;
    }
    const awareness = provider.awareness;
    const update = () => {
      const byId = new Map<string, DocUser>();
      for (const state of awareness.getStates().values()) {
        const user: unknown = (state as { user?: unknown }).user;
        if (isDocUser(user) && !byId.has(user.id)) byId.set(user.id, user);
      }
      setPeople([...byId.values()].sort((a, b) => a.name.localeCompare(b.name)));
    };
    update();
    awareness.on("change", update);
    return () => awareness.off("change", update);
  }, [provider]);
  return people;
}

export function DocPeople({ provider, myId }: { provider: HeraldYjsProvider | null; myId: string }) {
  const people = usePeople(provider);
  return (
    <section className="doc-people" data-testid="doc-people">
      <h3>In this document</h3>
      <ul>
        {people.map((p) => (
          <li key={p.id} data-testid="doc-person">
            <span className="doc-swatch" style={{ background: p.color }} aria-hidden="true" />
            <span className="doc-person-name">{p.name}</span>
            {p.id === myId ? <span className="status-label">you</span> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
