import { useI18n } from "../../lib/i18n";
import { HistoryIcon } from "../shell/icons";

/** The global History page; the journal itself arrives with the history issue. */
export function HistoryPage() {
  const { t } = useI18n();
  return (
    <div className="page empty-state">
      <div className="empty-icon">
        <HistoryIcon />
      </div>
      <p>{t("history.soon")}</p>
    </div>
  );
}
