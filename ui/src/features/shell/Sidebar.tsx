import { useI18n } from "../../lib/i18n";
import { formatCount } from "../../lib/format";
import type { PortalCounts } from "../../lib/ipc";
import { ENTITY_NAV_KEY, ENTITY_TYPES } from "../records/entities";
import { EntityIcon, HistoryIcon, Logo, OverviewIcon } from "./icons";
import { sameRoute, type Route } from "./route";

interface Props {
  route: Route;
  counts: PortalCounts | null;
  /** Unsent edits, shown beside "Outbox". */
  unsent?: number;
  onNavigate: (route: Route) => void;
}

export function Sidebar({ route, counts, unsent, onNavigate }: Props) {
  const { t, lang } = useI18n();
  const countOf = (type: string) => counts?.counts.find((c) => c.entityType === type)?.count;

  const item = (target: Route, label: string, icon: React.ReactNode, shortcut: number, count?: number) => {
    const active = sameRoute(route, target);
    return (
      <li key={label}>
        <button
          type="button"
          className={active ? "nav-item active" : "nav-item"}
          data-testid={`nav-${target.kind === "records" ? target.entityType : target.kind}`}
          aria-current={active ? "page" : undefined}
          title={`${label} (Alt+${shortcut})`}
          onClick={() => onNavigate(target)}
        >
          <span className="nav-icon">{icon}</span>
          <span className="nav-label">{label}</span>
          {count !== undefined && <span className="nav-count">{formatCount(count, lang)}</span>}
        </button>
      </li>
    );
  };

  return (
    <nav className="sidebar" aria-label={t("nav.section")}>
      <div className="brand">
        <Logo />
        <span className="brand-name">{t("app.name")}</span>
      </div>
      <ul className="nav-list">
        {item({ kind: "overview" }, t("nav.overview"), <OverviewIcon />, 1)}
      </ul>
      <div className="nav-heading">CRM</div>
      <ul className="nav-list">
        {ENTITY_TYPES.map((type, i) =>
          item(
            { kind: "records", entityType: type },
            t(ENTITY_NAV_KEY[type]),
            <EntityIcon type={type} />,
            i + 2,
            countOf(type),
          ),
        )}
      </ul>
      <ul className="nav-list">
        {item({ kind: "history" }, t("nav.history"), <HistoryIcon />, 6)}
        {item({ kind: "outbox" }, t("nav.outbox"), <span aria-hidden="true">⇡</span>, 7, unsent && unsent > 0 ? unsent : undefined)}
      </ul>
      <div className="sidebar-footer">
        <button
          type="button"
          className={route.kind === "connect" ? "nav-item active" : "nav-item"}
          data-testid="nav-connect"
          aria-current={route.kind === "connect" ? "page" : undefined}
          onClick={() => onNavigate({ kind: "connect" })}
        >
          <span className="nav-label">{t("nav.connect")}</span>
        </button>
        <span className="version">v0.1.0</span>
      </div>
    </nav>
  );
}
