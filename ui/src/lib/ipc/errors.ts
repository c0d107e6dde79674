import type { ErrorCode } from "./bindings/ErrorCode";
import type { IpcError } from "./bindings/IpcError";
import type { MessageKey } from "../i18n";

const CODES: readonly ErrorCode[] = [
  "offline",
  "auth",
  "noAccess",
  "planRestricted",
  "portalBlocked",
  "rateLimited",
  "notFound",
  "invalidInput",
  "storage",
  "databaseTooNew",
  "databaseUpgradeFailed",
  "secretStoreUnavailable",
  "editsFromElsewhere",
  "editsOriginUnknown",
  "internal",
];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (CODES as readonly string[]).includes(value);
}

/**
 * Turns whatever `invoke` rejected with into our `{code, message}` shape. The shell always sends
 * that shape; anything else (a Tauri-level refusal such as a missing permission, a thrown
 * exception in the browser) becomes `internal` with its text kept for the log.
 */
export function toIpcError(reason: unknown): IpcError {
  if (typeof reason === "object" && reason !== null) {
    const r = reason as { code?: unknown; message?: unknown; params?: unknown };
    if (isErrorCode(r.code)) {
      const error: IpcError = { code: r.code, message: typeof r.message === "string" ? r.message : "" };
      if (typeof r.params === "object" && r.params !== null) {
        error.params = r.params as IpcError["params"];
      }
      return error;
    }
    if (reason instanceof Error) return { code: "internal", message: reason.message };
  }
  if (typeof reason === "string") return { code: "internal", message: reason };
  return { code: "internal", message: "unknown error" };
}

/** The dictionary key of the message the user reads for an error code. */
export function errorMessageKey(code: ErrorCode): MessageKey {
  return `error.${code}`;
}

/** The values the message for an error's code takes (`{found}`), without the missing ones. */
export function errorParams(error: IpcError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(error.params ?? {})) {
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Whether trying again later can help (mirrors `ErrorCode::is_retryable` in Rust). */
export function isRetryable(code: ErrorCode): boolean {
  return code === "offline" || code === "rateLimited";
}

export class IpcFailure extends Error {
  readonly error: IpcError;
  constructor(error: IpcError) {
    super(error.message || error.code);
    this.name = "IpcFailure";
    this.error = error;
  }
}
