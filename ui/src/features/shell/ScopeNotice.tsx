import { useState } from "react";
import { useI18n } from "../../lib/i18n";
import type { MessageKey } from "../../lib/i18n/ru";
import type { WebhookScope } from "../../lib/ipc/bindings/WebhookScope";

/** The scope's name as Bitrix24's webhook form lists it, and what goes without it. */
const SCOPE: Record<WebhookScope, { name: string; without: MessageKey }> = {
  crm: { name: "crm", without: "scopes.withoutCrm" },
  users: { name: "user_brief", without: "scopes.withoutUsers" },
  department: { name: "department", without: "scopes.withoutDepartment" },
};

interface Props {
  missing: WebhookScope[];
}

/**
 * Says which scopes the webhook lacks and what does not work without each, and what to ask the
 * portal's administrator for. Hidden with "Got it" until the app starts again.
 */
export function ScopeNotice({ missing }: Props) {
  const { t } = useI18n();
  const [hidden, setHidden] = useState(false);
  if (missing.length === 0 || hidden) return null;
  return (
    <div className="notice scope-notice" role="status" data-testid="scope-notice">
      <strong>{t("scopes.title")}</strong>
      <ul>
        {missing.map((s) => (
          <li key={s} data-scope={s}>
            <code>{SCOPE[s].name}</code> — {t(SCOPE[s].without)}
          </li>
        ))}
      </ul>
      <p>{t("scopes.fix", { scopes: missing.map((s) => SCOPE[s].name).join(", ") })}</p>
      <button type="button" onClick={() => setHidden(true)}>
        {t("scopes.gotIt")}
      </button>
    </div>
  );
}
