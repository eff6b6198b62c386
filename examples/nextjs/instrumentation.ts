// Runs once when the Next.js server starts: starts the dashboard's producer.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  if (process.env.NEXT_PHASE === "phase-production-build") return;
  if (process.env.DASHBOARD_PRODUCER === "off") return;
  const { startProducer } = await import("./lib/producer");
  startProducer();
}
