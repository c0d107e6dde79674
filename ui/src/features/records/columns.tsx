import { createColumnHelper, type ColumnDef } from "@tanstack/react-table";
import type { EntityType } from "../../lib/ipc/bindings/EntityType";
import type { RecordListRow } from "../../lib/ipc/bindings/RecordListRow";
import type { RecordSortField } from "../../lib/ipc/bindings/RecordSortField";
import { formatDateTime, formatMoney } from "../../lib/format";
import type { Language, Translate } from "../../lib/i18n";

const col = createColumnHelper<RecordListRow>();

/**
 * Column id → the sort field the shell understands; columns not listed cannot be sorted. Only
 * columns an index of the replica serves (`records_by_title`, `records_by_updated`,
 * `records_by_amount`, `records_by_created`): a sort without one reads and sorts the whole table
 * for every page.
 */
export const SORTABLE: Partial<Record<string, RecordSortField>> = {
  title: "title",
  updated: "updatedTime",
  amount: "amount",
  created: "createdTime",
};

/** The order a list has before the user picks one: most recently changed first. */
export const DEFAULT_SORT = [{ id: "updated", desc: true }];

/** A cell's text, cut with an ellipsis when it does not fit, and shown whole in a tooltip. */
function Text({ value, className }: { value: string | null | undefined; className?: string }) {
  if (!value) return null;
  return (
    <span className={className ? `cell-text ${className}` : "cell-text"} title={value}>
      {value}
    </span>
  );
}

function StageChip({ row }: { row: RecordListRow }) {
  if (!row.stageName) return null;
  return (
    <span className="stage-chip" title={row.stageName}>
      <span className="stage-dot" style={{ background: row.stageColor ?? "#adb5bd" }} aria-hidden="true" />
      <span className="stage-name">{row.stageName}</span>
    </span>
  );
}

/**
 * The columns of each entity type's list, most important first (the table drops columns from the
 * end when they do not fit). Values are rendered as text, never as HTML.
 */
export function columnsFor(type: EntityType, t: Translate, lang: Language): ColumnDef<RecordListRow, unknown>[] {
  // Sortable columns are accessor columns: TanStack Table sorts (here: asks the shell to sort)
  // only columns that have a value to sort by.
  const title = col.accessor((r) => r.title, {
    id: "title",
    // A person is listed by name, a lead, deal or company by title.
    header: type === "contact" ? t("list.col.name") : t("list.col.title"),
    size: 2.6,
    minSize: 180,
    enableSorting: true,
    sortDescFirst: false,
    cell: ({ row }) => <Text className="cell-title" value={row.original.title} />,
  }) as ColumnDef<RecordListRow, unknown>;
  const stage = col.display({
    id: "stage",
    header: t("list.col.stage"),
    size: 2.0,
    minSize: 160,
    enableSorting: false,
    cell: ({ row }) => <StageChip row={row.original} />,
  });
  const responsible = col.display({
    id: "responsible",
    header: t("list.col.responsible"),
    size: 1.7,
    minSize: 120,
    enableSorting: false,
    cell: ({ row }) => <Text value={row.original.responsibleName} />,
  });
  const amount = col.accessor((r) => r.amount, {
    id: "amount",
    header: t("list.col.amount"),
    size: 1.1,
    minSize: 120,
    enableSorting: true,
    // The largest amounts first, as a salesperson looks at a pipeline.
    sortDescFirst: true,
    cell: ({ row }) => (
      <Text className="num" value={formatMoney(row.original.amount, row.original.currency, lang)} />
    ),
  }) as ColumnDef<RecordListRow, unknown>;
  const phone = col.display({
    id: "phone",
    header: t("list.col.phone"),
    size: 1.6,
    minSize: 140,
    enableSorting: false,
    cell: ({ row }) => <Text value={row.original.phone} />,
  });
  const email = col.display({
    id: "email",
    header: t("list.col.email"),
    size: 2,
    minSize: 150,
    enableSorting: false,
    cell: ({ row }) => <Text value={row.original.email} />,
  });
  const company = col.display({
    id: "company",
    header: t("list.col.company"),
    size: 1.8,
    minSize: 120,
    enableSorting: false,
    cell: ({ row }) => <Text value={row.original.companyTitle} />,
  });
  const updated = col.accessor((r) => r.updatedTime, {
    id: "updated",
    header: t("list.col.updated"),
    size: 1.4,
    minSize: 150,
    enableSorting: true,
    sortDescFirst: true,
    cell: ({ row }) => <Text className="muted" value={formatDateTime(row.original.updatedTime, lang)} />,
  }) as ColumnDef<RecordListRow, unknown>;
  const created = col.accessor((r) => r.createdTime, {
    id: "created",
    header: t("list.col.created"),
    size: 1.4,
    minSize: 150,
    enableSorting: true,
    sortDescFirst: true,
    cell: ({ row }) => <Text className="muted" value={formatDateTime(row.original.createdTime, lang)} />,
  }) as ColumnDef<RecordListRow, unknown>;
  switch (type) {
    case "lead":
      return [title, stage, phone, responsible, updated, email, created];
    case "deal":
      return [title, stage, amount, responsible, updated, company, created];
    case "contact":
      return [title, phone, company, email, responsible, updated, created];
    case "company":
      return [title, phone, email, responsible, updated, created];
  }
}
