/** The shared documents of the editor (Yjs documents in channels `doc:<id>`, Herald's /yjs door). */
export const DOCUMENTS = [
  { id: "notes", title: "Meeting notes" },
  { id: "plan", title: "Release plan" },
] as const;

export type DocumentId = (typeof DOCUMENTS)[number]["id"];

export function isDocumentId(id: string): id is DocumentId {
  return DOCUMENTS.some((d) => d.id === id);
}

/** The Herald channel of a document (also its room on the /yjs door, for stock y-websocket clients). */
export const documentChannel = (id: string) => `doc:${id}`;

/** The root `Y.Text` every editor of a document binds to. */
export const DOCUMENT_TEXT = "body";
