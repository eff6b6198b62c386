import { PrivateNotes } from "@/components/private-notes";

export default function NotesPage() {
  return (
    <div className="notifications-page">
      <section className="card">
        <h2>Private notes</h2>
        <p className="muted">
          End-to-end encrypted: your browser encrypts each note (AES-256-GCM) with a key this app&apos;s server derives for
          the channel; Herald stores and relays only ciphertext. See docs/encryption.md.
        </p>
        <PrivateNotes />
      </section>
    </div>
  );
}
