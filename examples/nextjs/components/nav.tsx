"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

const LINKS = [
  { href: "/chat/general", match: "/chat", label: "Chat" },
  { href: "/notifications", match: "/notifications", label: "Notifications" },
  { href: "/dashboard", match: "/dashboard", label: "Dashboard" },
  { href: "/docs/notes", match: "/docs", label: "Docs" },
  { href: "/notes", match: "/notes", label: "Private notes" },
  { href: "/orders", match: "/orders", label: "Orders" },
];

export function Nav() {
  const path = usePathname();
  return (
    <nav className="nav">
      {LINKS.map((l) => (
        <Link key={l.href} href={l.href} className={path.startsWith(l.match) ? "active" : undefined}>
          {l.label}
        </Link>
      ))}
    </nav>
  );
}
