import { readFile } from "node:fs/promises";

export interface Session {
  id: string;
  user: string;
  expires: number;
}

export async function loadSession(path: string): Promise<Session> {
  const raw = await readFile(path, "utf8");
  return JSON.parse(raw) as Session;
}

export function isExpired(session: Session, now: number): boolean {
  return session.expires <= now;
}
