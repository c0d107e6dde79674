import { describe, expect, it } from "vitest";
import { dictionaries } from "../i18n";
import { errorMessageKey, isErrorCode, isRetryable, toIpcError } from "./errors";
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
  "internal",
];

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
