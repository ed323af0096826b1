export async function saveAll(ids: string[], save: (id: string) => Promise<void>): Promise<number> {
  let saved = 0;
  ids.forEach(async (id) => {
    await save(id);
    saved += 1;
  });
  return saved;
}
