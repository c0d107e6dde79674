import type { RecordRow } from "../../lib/ipc/bindings/RecordRow";

/** Rows are fetched in blocks of this many as the user scrolls. */
export const PAGE_SIZE = 200;

/** The page indexes covering rows `[start, end]` (inclusive), clamped to `total`. */
export function pagesForRange(start: number, end: number, total: number): number[] {
  if (total <= 0 || end < start) return [];
  const first = Math.max(0, Math.floor(start / PAGE_SIZE));
  const last = Math.min(Math.floor((total - 1) / PAGE_SIZE), Math.floor(end / PAGE_SIZE));
  const pages: number[] = [];
  for (let p = first; p <= last; p++) pages.push(p);
  return pages;
}

/** A sparse list of the rows fetched so far. */
export class RowCache {
  private readonly pages = new Map<number, RecordRow[]>();
  private readonly pending = new Set<number>();

  row(index: number): RecordRow | undefined {
    return this.pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
  }

  has(page: number): boolean {
    return this.pages.has(page) || this.pending.has(page);
  }

  markPending(page: number): void {
    this.pending.add(page);
  }

  put(page: number, rows: RecordRow[]): void {
    this.pending.delete(page);
    this.pages.set(page, rows);
  }

  fail(page: number): void {
    this.pending.delete(page);
  }
}
