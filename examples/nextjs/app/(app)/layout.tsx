import Link from "next/link";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { signOutAction } from "@/app/actions";
import { ConnectionBanner } from "@/components/connection-banner";
import { Nav } from "@/components/nav";
import { Providers } from "@/components/providers";
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
    </Providers>
  );
}
