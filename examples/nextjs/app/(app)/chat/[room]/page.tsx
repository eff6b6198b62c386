import type { ReadPosition } from "@herald/client";
import { notFound } from "next/navigation";
import { ChatRoom } from "@/components/chat-room";
import { RoomSidebar, type RoomCounts } from "@/components/room-sidebar";
import { heraldServer } from "@/lib/herald-server";
import { HISTORY_PAGE, isRoomId, roomChannel, ROOMS } from "@/lib/rooms";
import { currentUser } from "@/lib/session";
import type { ChatMessage, InitialMessage } from "@/lib/types";

// Rendered on the server through @herald/next's HeraldServer: the last page of history (on
// screen at first paint), who has read how far ("seen by"), and each room's
// newest offset and my read mark (unread badges). The client then subscribes
// and keeps all of it live.
export default async function ChatPage({ params }: { params: Promise<{ room: string }> }) {
  const { room } = await params;
  if (!isRoomId(room)) notFound();
  const me = await currentUser();
  if (!me) notFound();
  const herald = heraldServer();
  const channel = roomChannel(room);
  let initial: InitialMessage[] = [];
  let reads: ReadPosition[] = [];
  let counts: RoomCounts = {};
  let historyError: string | undefined;
  try {
    const [page, positions, tops, unread] = await Promise.all([
      herald.history<ChatMessage>(channel, { direction: "backward", limit: HISTORY_PAGE }),
      herald.readPositions(channel),
      Promise.all(ROOMS.map((r) => herald.channel(roomChannel(r.id)))),
      herald.unread(me.id),
    ]);
    initial = page.publications
      .map((p) => ({
        offset: p.offset,
        time: p.time,
        data: p.data,
        user: p.data.user,
        key: p.idempotencyKey ?? `offset:${p.offset}`,
      }))
      .reverse();
    reads = positions.members.map((m) => ({ user: m.user, offset: m.offset }));
    counts = Object.fromEntries(
      ROOMS.map((r, i) => [
        r.id,
        {
          top: tops[i]?.offset ?? 0,
          mark: unread.channels.find((c) => c.channel === roomChannel(r.id))?.offset ?? 0,
        },
      ]),
    );
  } catch (e) {
    historyError = `History is unavailable right now (${e instanceof Error ? e.message : String(e)}).`;
  }
  const title = ROOMS.find((r) => r.id === room)?.title ?? room;
  return (
    <div className="chat">
      <RoomSidebar current={room} counts={counts} />
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
