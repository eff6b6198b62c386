import { notFound } from "next/navigation";
import { ChatRoom } from "@/components/chat-room";
import { RoomSidebar } from "@/components/room-sidebar";
import { readPositions, type ReadPosition } from "@/lib/herald-api";
import { heraldServer } from "@/lib/herald-server";
import { HISTORY_PAGE, isRoomId, roomChannel, ROOMS } from "@/lib/rooms";
import type { ChatMessage, InitialMessage } from "@/lib/types";

// The last page of history is rendered on the server, so it is on screen at
// first paint; the client then subscribes and pages back on scroll.
export default async function ChatPage({ params }: { params: Promise<{ room: string }> }) {
  const { room } = await params;
  if (!isRoomId(room)) notFound();
  const channel = roomChannel(room);
  let initial: InitialMessage[] = [];
  let reads: ReadPosition[] = [];
  let historyError: string | undefined;
  try {
    const page = await heraldServer().history<ChatMessage>(channel, { direction: "backward", limit: HISTORY_PAGE });
    initial = page.publications
      .map((p) => ({
        offset: p.offset,
        time: p.time,
        data: p.data,
        user: p.data.user,
        key: p.idempotencyKey ?? `offset:${p.offset}`,
      }))
      .reverse();
    reads = await readPositions(channel);
  } catch (e) {
    historyError = `History is unavailable right now (${e instanceof Error ? e.message : String(e)}).`;
  }
  const title = ROOMS.find((r) => r.id === room)?.title ?? room;
  return (
    <div className="chat">
      <RoomSidebar current={room} />
      <ChatRoom
        key={room}
        room={room}
        title={title}
        initial={initial}
        hasOlder={(initial[0]?.offset ?? 1) > 1}
        initialReads={reads}
        historyError={historyError}
      />
    </div>
  );
}
