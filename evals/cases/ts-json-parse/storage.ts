export interface Prefs {
  theme: string;
  fontSize: number;
}

export function loadPrefs(raw: string | null): Prefs {
  const parsed = JSON.parse(raw);
  return { theme: parsed.theme ?? "light", fontSize: parsed.fontSize ?? 14 };
}
