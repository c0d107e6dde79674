import { createColumnHelper, type ColumnDef } from "@tanstack/react-table";
import type { MessageKey, Language, Translate } from "../../lib/i18n";
import { formatDateTime } from "../../lib/format";
import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";
import type { RecordKey } from "../../lib/ipc";
import { ENTITY_ONE_KEY } from "../records/entities";
import { widthOf, type ColumnSettings, type HistoryColumnId } from "./columns";
import { authorText, describeEvent, eventLabel, fieldText, newText, oldText, sourceLabel, syncLabel } from "./describe";

const col = createColumnHelper<HistoryEvent>();

/** A cell's text as the page shows it (values are text nodes, never HTML). */
export function cellText(id: HistoryColumnId, e: HistoryEvent, t: Translate, lang: Language): string {
  switch (id) {
    case "happenedAt":
      return formatDateTime(e.happenedAt, lang);
    case "entity":
      return e.record ? t(ENTITY_ONE_KEY[e.record.entityType]) : "";
    case "title":
      return e.recordTitle;
    case "author":
      return authorText(e, t);
    case "event":
      return eventLabel(e.event, t);
    case "description":
      return describeEvent(e, t);
    case "field":
      return fieldText(e);
    case "old":
      return oldText(e);
    case "new":
      return newText(e);
    case "note":
      return e.note ?? "";
    case "source":
      return sourceLabel(e.source, t);
    case "syncState":
      return syncLabel(e.syncState, t);
  }
}

/** The table's columns, in the user's order, with their widths. */
export function historyColumns(
  settings: ColumnSettings,
  visible: HistoryColumnId[],
  t: Translate,
  lang: Language,
  onOpen: (key: RecordKey) => void,
): ColumnDef<HistoryEvent, unknown>[] {
  return visible.map((id) =>
    col.display({
      id,
      header: t(`history.col.${id}` as MessageKey),
      size: widthOf(settings, id),
      minSize: widthOf(settings, id),
      cell: ({ row }) => {
        const e = row.original;
        const text = cellText(id, e, t, lang);
        if (id === "title" && e.record) {
          const key = e.record;
          return (
            <button type="button" className="link-button cell-link" data-col={id} title={t("history.open")} onClick={() => onOpen(key)}>
              {text}
            </button>
          );
        }
        if (id === "author" && e.authorKind === "robot") {
          return (
            <span data-col={id} title={text}>
              {text} <span className="tag">{t("history.robot")}</span>
            </span>
          );
        }
        if (id === "author" && e.authorKind === "unknown") {
          return (
            <span data-col={id} className="muted" title={text}>
              {text}
            </span>
          );
        }
        if (id === "event" && e.hidden) {
          return (
            <span data-col={id} data-hidden="true" title={text}>
              <span className="tag tag-hidden">{t("history.hiddenMark")}</span> {text}
            </span>
          );
        }
        return (
          <span data-col={id} title={text}>
            {text}
          </span>
        );
      },
    }),
  );
}
