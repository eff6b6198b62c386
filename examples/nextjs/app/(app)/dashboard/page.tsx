import { LiveDashboard } from "@/components/live-dashboard";
import { heraldPublicUrl } from "@/lib/config";
import { heraldServer } from "@/lib/herald-server";
import { METRICS_CHANNEL } from "@/lib/rooms";
import type { Figures } from "@/lib/types";

// The latest samples are rendered on the server; the page then follows
// metrics:live over Server-Sent Events from Herald.
export default async function DashboardPage() {
  let recent: Figures[] = [];
  try {
    const page = await heraldServer().history<Figures>(METRICS_CHANNEL, { direction: "backward", limit: 30 });
    recent = page.publications.map((p) => p.data).reverse();
  } catch {
    /* Herald down: the stream fills the page when it is back */
  }
  return <LiveDashboard heraldUrl={heraldPublicUrl()} initial={recent} />;
}
