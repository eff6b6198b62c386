import { redirect } from "next/navigation";

export default function ChatIndex() {
  redirect("/chat/general");
}
