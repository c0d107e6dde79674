import { useRef, useState } from "react";
import { useI18n } from "../../lib/i18n";
import type { MessageKey } from "../../lib/i18n";
import { portalHost } from "../../lib/format";
import { IpcFailure, portalConnect, portalUseDemo, type IpcError } from "../../lib/ipc";
import { ErrorBanner } from "../shell/ErrorBanner";
import { Logo, SyncIcon } from "../shell/icons";
import { webhookProblem } from "./validate";

/** What the screen says under the form: nothing, a problem with the input, or the portal's answer. */
type Notice =
  | { kind: "problem"; key: MessageKey }
  | { kind: "error"; error: IpcError; host: string | null }
  | { kind: "cancelled" };

/**
 * Shown when no portal is configured: paste a webhook URL, or try the demo portal. `problem` says
 * why a configured portal could not be opened (its webhook is out of the keyring's reach).
 */
export function ConnectScreen({ onConnected, problem: atStart }: { onConnected: () => void; problem?: IpcError | null }) {
  const { t } = useI18n();
  const [url, setUrl] = useState("");
  const [busy, setBusy] = useState<{ host: string | null } | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  // Each attempt has a number; an answer to an attempt the user stopped waiting for is ignored.
  const attempt = useRef(0);

  const run = (host: string | null, action: () => Promise<unknown>) => {
    const mine = ++attempt.current;
    setBusy({ host });
    setNotice(null);
    action()
      .then(() => {
        if (mine === attempt.current) onConnected();
      })
      .catch((e: unknown) => {
        if (mine !== attempt.current) return;
        setNotice({ kind: "error", error: e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) }, host });
      })
      .finally(() => {
        if (mine === attempt.current) setBusy(null);
      });
  };

  const errorText = (error: IpcError, host: string | null) => {
    if (error.code === "invalidInput") return t("connect.badUrl");
    if (error.code === "offline") return t("connect.unreachable", { host: host ?? "" });
    return null;
  };

  return (
    <div className="connect">
      <form
        className="connect-box"
        // The webview shows no validation bubbles: the app checks the address and says what is wrong.
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (busy) return;
          const found: MessageKey | null = url.trim() === "" ? "connect.empty" : webhookProblem(url);
          if (found) {
            setNotice({ kind: "problem", key: found });
            return;
          }
          run(portalHost(url), () => portalConnect(url.trim()));
        }}
      >
        <Logo />
        <h1>{t("connect.title")}</h1>
        <p className="muted">{t("connect.lead")}</p>
        <label className="field">
          <span>{t("connect.url")}</span>
          <input
            type="text"
            inputMode="url"
            value={url}
            autoFocus
            spellCheck={false}
            autoComplete="off"
            data-testid="connect-url"
            placeholder={t("connect.placeholder")}
            aria-invalid={notice?.kind === "problem"}
            onChange={(e) => {
              setUrl(e.target.value);
              if (notice?.kind === "problem") setNotice(null);
            }}
          />
        </label>
        <p className="muted small">{t("connect.hint")}</p>
        {notice?.kind === "problem" && (
          <div className="banner banner-invalidInput" role="alert" data-testid="connect-problem">
            {t(notice.key)}
          </div>
        )}
        {!notice && atStart && <ErrorBanner error={atStart} />}
        {notice?.kind === "error" &&
          (errorText(notice.error, notice.host) ? (
            <div className={`banner banner-${notice.error.code}`} role="alert" data-testid="connect-problem">
              {errorText(notice.error, notice.host)}
            </div>
          ) : (
            <ErrorBanner error={notice.error} />
          ))}
        {notice?.kind === "cancelled" && (
          <div className="banner" role="status">
            {t("connect.cancelled")}
          </div>
        )}
        {busy && (
          <div className="connect-progress" role="status" data-testid="connect-progress">
            <SyncIcon spinning />
            <span>{busy.host ? t("connect.connecting", { host: busy.host }) : t("overview.connecting")}</span>
            <button
              type="button"
              className="link-button"
              onClick={() => {
                attempt.current += 1;
                setBusy(null);
                setNotice({ kind: "cancelled" });
              }}
            >
              {t("connect.cancel")}
            </button>
          </div>
        )}
        <button type="submit" className="primary" disabled={busy !== null} data-testid="connect-submit">
          {t("connect.submit")}
        </button>
        <button type="button" className="secondary" disabled={busy !== null} onClick={() => run(null, portalUseDemo)}>
          {t("connect.demo")}
        </button>
      </form>
    </div>
  );
}
