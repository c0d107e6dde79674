import { describe, expect, it } from "vitest";
import { dictionaries, translate } from "../i18n";
import { errorMessageKey, errorParams, isErrorCode, isRetryable, toIpcError } from "./errors";
import type { ErrorCode } from "./bindings/ErrorCode";

const ALL: ErrorCode[] = [
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

describe("error params", () => {
  it("reach the message: a newer database names its version in both languages", () => {
    const error = toIpcError({
      code: "databaseTooNew",
      message: "the database was created by a newer version",
      params: { found: "9", supported: "2" },
    });
    expect(errorParams(error)).toEqual({ found: "9", supported: "2" });
    expect(translate("ru", errorMessageKey(error.code), errorParams(error))).toContain("версия базы 9");
    expect(translate("en", errorMessageKey(error.code), errorParams(error))).toContain("database version 9");
    expect(translate("en", errorMessageKey(error.code), errorParams(error))).toContain("the file was not changed");
  });
});

describe("a failed upgrade", () => {
  it("names the step, the reason and the copy in both languages", () => {
    const error = toIpcError({
      code: "databaseUpgradeFailed",
      message: "the replica could not be upgraded",
      params: { from: "4", to: "5", step: "5", reason: "index records_by_amount already exists", copy: "/data/replica.db.v4.bak" },
    });
    for (const lang of ["ru", "en"] as const) {
      const text = translate(lang, errorMessageKey(error.code), errorParams(error));
      expect(text).toContain("4 → 5");
      expect(text).toContain("records_by_amount");
      expect(text).toContain("/data/replica.db.v4.bak");
    }
    expect(translate("ru", errorMessageKey(error.code), errorParams(error))).toContain("Файл не изменён");
  });
});

describe("toIpcError", () => {
  it("keeps the shell's {code, message} as it is", () => {
    expect(toIpcError({ code: "auth", message: "webhook refused" })).toEqual({
      code: "auth",
      message: "webhook refused",
    });
  });

  it("turns anything else into an internal error with its text", () => {
    expect(toIpcError("Command portal_status not allowed by ACL")).toEqual({
      code: "internal",
      message: "Command portal_status not allowed by ACL",
    });
    expect(toIpcError(new Error("boom"))).toEqual({ code: "internal", message: "boom" });
    expect(toIpcError({ code: "teapot", message: "x" }).code).toBe("internal");
    expect(toIpcError(undefined).code).toBe("internal");
  });
});

describe("error codes", () => {
  it("every code has a message in both languages", () => {
    for (const code of ALL) {
      expect(isErrorCode(code)).toBe(true);
      const key = errorMessageKey(code);
      expect(dictionaries.ru[key], code).toBeTruthy();
      expect(dictionaries.en[key], code).toBeTruthy();
    }
  });

  it("only network trouble and rate limits are retried", () => {
    expect(ALL.filter(isRetryable)).toEqual(["offline", "rateLimited"]);
  });
});
