/** Reconnection back-off: exponential with FULL jitter. */
export interface BackoffOptions {
  /** Base delay, ms. Default 250. */
  minDelayMs?: number;
  /** Cap, ms. Default 30 000. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Source of randomness in [0, 1). Default `Math.random` (inject for tests). */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { minDelayMs: 250, maxDelayMs: 30_000, factor: 2 } as const;

/** The upper bound of the delay before reconnect attempt `attempt` (0-based): min(max, min·factor^attempt). */
export function backoffCeiling(attempt: number, opts: BackoffOptions = {}): number {
  const min = opts.minDelayMs ?? DEFAULT_BACKOFF.minDelayMs;
  const max = opts.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs;
  const factor = opts.factor ?? DEFAULT_BACKOFF.factor;
  return Math.min(max, min * Math.pow(factor, Math.max(0, attempt)));
}

/** The delay before reconnect attempt `attempt`: random(0, ceiling) ("full jitter"). */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const random = opts.random ?? Math.random;
  return Math.floor(random() * backoffCeiling(attempt, opts));
}
