import type { RecordListRow } from "../../lib/ipc/bindings/RecordListRow";

/** Rows are fetched in blocks of this many as the user scrolls. */
export const PAGE_SIZE = 200;

/**
 * The rows of a list fetched so far. Lists are paged by key: each page starts where the previous
 * one ended (`nextCursor`), so pages are fetched in order, one at a time.
 */
export class RowCache {
  private readonly rows: RecordListRow[] = [];
  private next: string | null = null;
  private started = false;
  private loading = false;

  row(index: number): RecordListRow | undefined {
    return this.rows[index];
  }

  get loaded(): number {
    return this.rows.length;
  }

  /** Whether another page should be fetched to show rows up to `end` (inclusive). */
  needsMore(end: number): boolean {
    if (this.loading) return false;
    if (!this.started) return true;
    return this.next !== null && end >= this.rows.length;
  }

  /** Marks a fetch as running and returns the cursor it must start from. */
  begin(): string | null {
    this.loading = true;
    return this.next;
  }

  append(rows: RecordListRow[], next: string | null): void {
    this.started = true;
    this.rows.push(...rows);
    this.next = next;
    this.loading = false;
  }

  fail(): void {
    this.loading = false;
  }
}
