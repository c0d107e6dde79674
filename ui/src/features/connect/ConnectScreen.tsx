import { useState } from "react";
import { useI18n } from "../../lib/i18n";
import type { MessageKey } from "../../lib/i18n";
import { IpcFailure, portalConnect, portalUseDemo, type IpcError } from "../../lib/ipc";
import { ErrorBanner } from "../shell/ErrorBanner";
import { Logo } from "../shell/icons";
import { webhookProblem } from "./validate";

/**
 * Shown when no portal is configured: paste a webhook URL, or try the demo portal. `problem` says
 * why a configured portal could not be opened (its webhook is out of the keyring's reach).
 */
export function ConnectScreen({ onConnected, problem: atStart }: { onConnected: () => void; problem?: IpcError | null }) {
  const { t } = useI18n();
  const [url, setUrl] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<IpcError | null>(null);
  const [problem, setProblem] = useState<MessageKey | null>(null);

  const run = (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    setProblem(null);
    action()
      .then(onConnected)
      .catch((e: unknown) => setError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) }))
      .finally(() => setBusy(false));
  };

  return (
    <div className="connect">
      <form
        className="connect-box"
        onSubmit={(e) => {
          e.preventDefault();
          const found = webhookProblem(url);
          setProblem(found);
          if (found) return;
          run(() => portalConnect(url.trim()));
        }}
      >
        <Logo />
        <h1>{t("connect.title")}</h1>
        <p className="muted">{t("connect.lead")}</p>
        <label className="field">
          <span>{t("connect.url")}</span>
          <input
            type="url"
            value={url}
            autoFocus
            spellCheck={false}
            placeholder={t("connect.placeholder")}
            onChange={(e) => {
              setUrl(e.target.value);
              setProblem(null);
            }}
          />
        </label>
        <p className="muted small">{t("connect.hint")}</p>
        {problem && (
          <div className="banner banner-invalidInput" role="alert">
            {t(problem)}
          </div>
        )}
        {!error && atStart && <ErrorBanner error={atStart} />}
        {error && (error.code === "invalidInput" ? (
          <div className="banner banner-invalidInput" role="alert">
            {t("connect.badUrl")}
          </div>
        ) : (
          <ErrorBanner error={error} />
        ))}
        <button type="submit" className="primary" disabled={busy || url.trim() === ""}>
          {t("connect.submit")}
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={() => run(portalUseDemo)}>
          {t("connect.demo")}
        </button>
      </form>
    </div>
  );
}
