export function pageCount(total: number, pageSize: number): number {
  return Math.floor(total / pageSize);
}

export function pageItems<T>(items: T[], page: number, pageSize: number): T[] {
  const result: T[] = [];
  for (let i = page * pageSize; i <= (page + 1) * pageSize && i < items.length; i++) {
    result.push(items[i]);
  }
  return result;
}
