import { describe, expect, it } from "vitest";
import { webhookProblem } from "./validate";

describe("webhookProblem", () => {
  it("accepts a portal webhook and the local sandbox's", () => {
    expect(webhookProblem("https://acme.bitrix24.ru/rest/1/abc123def/")).toBeNull();
    expect(webhookProblem(" https://acme.bitrix24.ru/rest/12/abc123def ")).toBeNull();
    expect(webhookProblem("http://127.0.0.1:4567/rest/1/code/")).toBeNull();
  });

  it("refuses plain http to anything but this computer", () => {
    expect(webhookProblem("http://acme.bitrix24.ru/rest/1/abc/")).toBe("connect.httpsOnly");
    // A webhook pasted without its scheme is asked for https, not called "not a URL".
    expect(webhookProblem("acme.bitrix24.ru/rest/1/abc/")).toBe("connect.httpsOnly");
    expect(webhookProblem("hello world")).toBe("connect.badUrl");
  });

  it("refuses what is not a webhook URL", () => {
    expect(webhookProblem("acme.bitrix24.ru")).toBe("connect.badUrl");
    expect(webhookProblem("https://acme.bitrix24.ru/crm/deal/")).toBe("connect.badUrl");
    expect(webhookProblem("https://acme.bitrix24.ru/rest/admin/abc/")).toBe("connect.badUrl");
    expect(webhookProblem("ftp://acme.bitrix24.ru/rest/1/abc/")).toBe("connect.badUrl");
  });
});
