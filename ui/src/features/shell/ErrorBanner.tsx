import { useI18n } from "../../lib/i18n";
import { errorMessageKey, errorParams, isRetryable, type IpcError } from "../../lib/ipc";

/** An error as the user reads it: the translated message for its code, and Retry when it helps. */
export function ErrorBanner({ error, onRetry }: { error: IpcError; onRetry?: () => void }) {
  const { t } = useI18n();
  return (
    <div className={`banner banner-${error.code}`} role="alert">
      <span>{t(errorMessageKey(error.code), errorParams(error))}</span>
      {onRetry && (isRetryable(error.code) || error.code === "internal") && (
        <button type="button" className="link-button" onClick={onRetry}>
          {t("error.retry")}
        </button>
      )}
    </div>
  );
}
