import { redirect } from "next/navigation";
import { SignInForm } from "@/components/sign-in-form";
import { currentUser } from "@/lib/session";

export default async function Home() {
  if (await currentUser()) redirect("/chat/general");
  return (
    <main className="signin">
      <div className="signin-card">
        <h1>
          Herald <span className="muted">× Next.js</span>
        </h1>
        <p className="muted">Chat, notifications and a live dashboard, in real time. Open a second browser to talk to yourself.</p>
        <SignInForm />
        <p className="fine">Development sign-in: the name is your identity. No password.</p>
      </div>
    </main>
  );
}
