import { useI18n } from "../../lib/i18n";
import { formatCount } from "../../lib/format";
import type { EntityType, IpcError, PortalCounts, PortalStatus } from "../../lib/ipc";
import { ErrorBanner } from "../shell/ErrorBanner";
import { EntityIcon } from "../shell/icons";
import { ENTITY_ACCENT, ENTITY_NAV_KEY, ENTITY_TYPES } from "../records/entities";

interface Props {
  status: PortalStatus | null;
  counts: PortalCounts | null;
  error: IpcError | null;
  onRetry: () => void;
  onOpen: (type: EntityType) => void;
}

/** The first screen: how many records of each type the portal holds. */
export function Overview({ status, counts, error, onRetry, onOpen }: Props) {
  const { t, lang } = useI18n();
  const total = counts?.counts.reduce((sum, c) => sum + c.count, 0);

  return (
    <div className="page overview">
      {error && <ErrorBanner error={error} onRetry={onRetry} />}
      <div className="overview-head">
        <div>
          <h2>{t("overview.subtitle")}</h2>
          {status?.mode === "demo" && <p className="muted">{t("overview.demoNote")}</p>}
          {!status && !error && (
            <p className="muted" role="status">
              {t("overview.connecting")}
            </p>
          )}
        </div>
        <div className="overview-total">
          <span className="muted">{t("overview.total")}</span>
          <strong data-testid="count-total">{total === undefined ? "…" : formatCount(total, lang)}</strong>
        </div>
      </div>
      <div className="tiles">
        {ENTITY_TYPES.map((type) => {
          const count = counts?.counts.find((c) => c.entityType === type)?.count;
          return (
            <button
              type="button"
              key={type}
              className="tile"
              style={{ "--accent": ENTITY_ACCENT[type] } as React.CSSProperties}
              onClick={() => onOpen(type)}
              data-testid={`count-${type}`}
            >
              <span className="tile-icon">
                <EntityIcon type={type} />
              </span>
              <span className="tile-label">{t(ENTITY_NAV_KEY[type])}</span>
              <span className="tile-count">{count === undefined ? "…" : formatCount(count, lang)}</span>
              <span className="tile-foot">{t("overview.open")} →</span>
            </button>
          );
        })}
      </div>
    </div>
  );
}
