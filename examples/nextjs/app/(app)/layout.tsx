import Link from "next/link";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { signOutAction } from "@/app/actions";
import { Bell } from "@/components/bell";
import { ConnectionBanner } from "@/components/connection-banner";
import { Nav } from "@/components/nav";
import { NotificationAlerts } from "@/components/notification-alerts";
import { PresenceReporter } from "@/components/presence-reporter";
import { Providers } from "@/components/providers";
import { Toasts } from "@/components/toasts";
import { heraldPublicUrl } from "@/lib/config";
import { currentUser } from "@/lib/session";

// Every page in here needs a signed-in user and shares one Herald client
// (one socket), opened in the browser by the first hook that subscribes.
export default async function AppLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  if (!user) redirect("/");
  return (
    <Providers url={heraldPublicUrl()} user={user}>
      <div className="shell">
        <header className="topbar">
          <Link href="/chat/general" className="brand">
            Herald
          </Link>
          <Nav />
          <div className="topbar-end">
            <Bell />
            <span className="me" data-testid="me">
              {user.name}
            </span>
            <form action={signOutAction}>
              <button type="submit" className="link">
                Sign out
              </button>
            </form>
          </div>
        </header>
        <ConnectionBanner />
        <div className="content">{children}</div>
      </div>
      <PresenceReporter idleMs={Number(process.env.IDLE_AFTER_MS ?? 60_000)} />
      <NotificationAlerts />
      <Toasts />
    </Providers>
  );
}
