import { NotificationCenter } from "@/components/notification-center";
import { NotifyForm } from "@/components/notify-form";
import { currentUser } from "@/lib/session";
import { knownUsers } from "@/lib/process-memory";

export default async function NotificationsPage() {
  const me = await currentUser();
  const others = knownUsers().filter((u) => u.id !== me?.id);
  return (
    <div className="notifications-page">
      <section className="card">
        <h2>Send a notification</h2>
        <p className="muted">A Server Action puts it in the recipients&apos; inboxes through Herald&apos;s HTTP API; they see it at once.</p>
        <NotifyForm users={others} />
      </section>
      <NotificationCenter />
    </div>
  );
}
