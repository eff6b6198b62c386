import Link from "next/link";
import { notFound } from "next/navigation";
import { CollabEditor } from "@/components/collab-editor";
import { DOCUMENTS, documentChannel, isDocumentId } from "@/lib/documents";
import "../editor.css";

// A shared document: the server renders the frame (list of documents, title);
// the browser syncs the text over its one Herald connection (@herald/yjs) and edits it in
// CodeMirror with everyone else who has it open.
export default async function DocumentPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!isDocumentId(id)) notFound();
  const title = DOCUMENTS.find((d) => d.id === id)?.title ?? id;
  return (
    <div className="docs">
      <aside className="sidebar">
        <h3>Documents</h3>
        <ul className="rooms">
          {DOCUMENTS.map((d) => (
            <li key={d.id}>
              <Link href={`/docs/${d.id}`} className={d.id === id ? "active" : undefined} data-testid={`doc-${d.id}`}>
                {d.title}
              </Link>
            </li>
          ))}
        </ul>
      </aside>
      <CollabEditor key={id} channel={documentChannel(id)} title={title} />
    </div>
  );
}
