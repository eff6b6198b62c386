import { redirect } from "next/navigation";
import { DOCUMENTS } from "@/lib/documents";

export default function DocsPage() {
  redirect(`/docs/${DOCUMENTS[0].id}`);
}
