import { createColumnHelper, type ColumnDef } from "@tanstack/react-table";
import type { EntityType } from "../../lib/ipc/bindings/EntityType";
import type { RecordListRow } from "../../lib/ipc/bindings/RecordListRow";
import type { RecordSortField } from "../../lib/ipc/bindings/RecordSortField";
import { formatDateTime, formatMoney } from "../../lib/format";
import type { Language, Translate } from "../../lib/i18n";

const col = createColumnHelper<RecordListRow>();

/** Column id → the sort field the shell understands; columns not listed cannot be sorted. */
export const SORTABLE: Partial<Record<string, RecordSortField>> = {
  title: "title",
  amount: "amount",
  updated: "updatedTime",
};

function StageChip({ row }: { row: RecordListRow }) {
  if (!row.stageName) return null;
  return (
    <span className="stage-chip">
      <span className="stage-dot" style={{ background: row.stageColor ?? "#adb5bd" }} aria-hidden="true" />
      {row.stageName}
    </span>
  );
}

/** The columns of each entity type's list. Values are rendered as text, never as HTML. */
export function columnsFor(type: EntityType, t: Translate, lang: Language): ColumnDef<RecordListRow, unknown>[] {
  const title = col.display({
    id: "title",
    header: t("list.col.title"),
    size: 3,
    minSize: 200,
    enableSorting: true,
    cell: ({ row }) => <span className="cell-title">{row.original.title}</span>,
  });
  const stage = col.display({
    id: "stage",
    header: t("list.col.stage"),
    size: 2,
    minSize: 140,
    enableSorting: false,
    cell: ({ row }) => <StageChip row={row.original} />,
  });
  const responsible = col.display({
    id: "responsible",
    header: t("list.col.responsible"),
    size: 2,
    minSize: 140,
    enableSorting: false,
    cell: ({ row }) => row.original.responsibleName ?? "",
  });
  const amount = col.display({
    id: "amount",
    header: t("list.col.amount"),
    size: 1.4,
    minSize: 110,
    enableSorting: true,
    cell: ({ row }) => (
      <span className="num">{formatMoney(row.original.amount, row.original.currency, lang)}</span>
    ),
  });
  const phone = col.display({
    id: "phone",
    header: t("list.col.phone"),
    size: 1.6,
    minSize: 130,
    enableSorting: false,
    cell: ({ row }) => row.original.phone ?? "",
  });
  const email = col.display({
    id: "email",
    header: t("list.col.email"),
    size: 2,
    minSize: 150,
    enableSorting: false,
    cell: ({ row }) => row.original.email ?? "",
  });
  const company = col.display({
    id: "company",
    header: t("list.col.company"),
    size: 2,
    minSize: 140,
    enableSorting: false,
    cell: ({ row }) => row.original.companyTitle ?? "",
  });
  const updated = col.display({
    id: "updated",
    header: t("list.col.updated"),
    size: 1.5,
    minSize: 130,
    enableSorting: true,
    cell: ({ row }) => <span className="muted">{formatDateTime(row.original.updatedTime, lang)}</span>,
  });
  switch (type) {
    case "lead":
      return [title, stage, responsible, phone, email, updated];
    case "deal":
      return [title, stage, amount, company, responsible, updated];
    case "contact":
      return [title, company, phone, email, responsible, updated];
    case "company":
      return [title, phone, email, responsible, updated];
  }
}
