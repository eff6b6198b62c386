// A stable colour per user for remote cursors and the "who's here" list.
const PALETTE = ["#e11d48", "#2563eb", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];

export interface UserColor {
  /** Caret and name label. */
  color: string;
  /** Selection background (the colour at 20% opacity). */
  colorLight: string;
}

export function userColor(userId: string): UserColor {
  let h = 0;
  for (const ch of userId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const color = PALETTE[h % PALETTE.length] ?? "#4f46e5";
  return { color, colorLight: `${color}33` };
}
