// Chat messages sent but not yet acknowledged by Herald: while the
// connection is down they wait in the client's queue, and the connection
// banner shows how many. An external store for useSyncExternalStore.

let count = 0;
const listeners = new Set<() => void>();

function emit(): void {
  for (const l of [...listeners]) l();
}

export const outbox = {
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  getSnapshot: (): number => count,
  getServerSnapshot: (): number => 0,
  /** Counts `p` as waiting until it settles. */
  track<T>(p: Promise<T>): Promise<T> {
    count++;
    emit();
    const done = () => {
      count--;
      emit();
    };
    p.then(done, done);
    return p;
  },
};
