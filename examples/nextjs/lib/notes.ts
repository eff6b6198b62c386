// The private notes page: one end-to-end encrypted channel shared by the team.

/** The encrypted channel (namespace `notes`, see herald.toml). */
export const NOTES_CHANNEL = "notes:team";

/** A note as the browsers see it (Herald stores only its ciphertext). */
export interface PrivateNote {
  text: string;
  user: string;
  name: string;
}
