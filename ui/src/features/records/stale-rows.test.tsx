// Issue 11 "Also seen": the previous list's rows must never show under the new list's title,
// not even while the new list's first page is on its way.
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, expect, it, vi } from "vitest";
import { App } from "../../App";
import { I18nProvider } from "../../lib/i18n";

afterEach(() => {
  vi.restoreAllMocks();
  cleanup();
  clearMocks();
  window.localStorage.clear();
});

const row = (entityType: string, id: number, title: string) => ({
  key: { entityType, id },
  title,
  stageId: null,
  stageName: null,
  stageColor: null,
  responsibleName: null,
  amount: null,
  currency: null,
  phone: null,
  email: null,
  companyTitle: null,
  updatedTime: "2026-11-20T10:00:00Z",
  hasPendingEdits: false,
});

it("shows no row of the previous list while the next list's first page is on its way", async () => {
  vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(600);
  vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(1100);
  let releaseContacts: (v: unknown) => void = () => {};
  const contactsPage = new Promise((resolve) => {
    releaseContacts = resolve;
  });
  mockIPC(
    (cmd, payload) => {
      const p = payload as { request?: { entityType?: string } } | undefined;
      switch (cmd) {
        case "portal_status":
          return { mode: "demo", portalName: "Демо", online: true, lastSyncAt: null };
        case "portal_counts":
          return {
            counts: ["lead", "deal", "contact", "company"].map((entityType) => ({ entityType, count: 1 })),
          };
        case "sync_status":
          return { running: false, progress: null, lastSyncAt: null, lastError: null };
        case "references_list":
          return { stages: [], categories: [], users: [] };
        case "outbox_list":
          return { entries: [], open: 0, conflicts: 0 };
        case "records_list":
          if (p?.request?.entityType === "contact") return contactsPage;
          return { rows: [row("deal", 1, "Сделка из прошлого списка")], total: 1, nextCursor: null };
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  render(
    <I18nProvider initial="ru">
      <App />
    </I18nProvider>,
  );
  fireEvent.click(await screen.findByTestId("count-deal"));
  await screen.findByText("Сделка из прошлого списка");

  fireEvent.click(await screen.findByTestId("nav-contact"));
  // The contacts page has not answered yet: the deal must already be gone.
  expect(screen.queryByText("Сделка из прошлого списка")).toBeNull();

  releaseContacts({ rows: [row("contact", 2, "Анна Герасимова")], total: 1, nextCursor: null });
  await screen.findByText("Анна Герасимова");
  expect(screen.queryByText("Сделка из прошлого списка")).toBeNull();
});

it("drops the previous list's late answer instead of showing it under the new title", async () => {
  vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(600);
  vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(1100);
  let releaseDeals: (v: unknown) => void = () => {};
  const dealsPage = new Promise((resolve) => {
    releaseDeals = resolve;
  });
  mockIPC(
    (cmd, payload) => {
      const p = payload as { request?: { entityType?: string } } | undefined;
      switch (cmd) {
        case "portal_status":
          return { mode: "demo", portalName: "Демо", online: true, lastSyncAt: null };
        case "portal_counts":
          return {
            counts: ["lead", "deal", "contact", "company"].map((entityType) => ({ entityType, count: 1 })),
          };
        case "sync_status":
          return { running: false, progress: null, lastSyncAt: null, lastError: null };
        case "references_list":
          return { stages: [], categories: [], users: [] };
        case "outbox_list":
          return { entries: [], open: 0, conflicts: 0 };
        case "records_list":
          if (p?.request?.entityType === "deal") return dealsPage;
          return { rows: [row("contact", 2, "Анна Герасимова")], total: 1, nextCursor: null };
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  render(
    <I18nProvider initial="ru">
      <App />
    </I18nProvider>,
  );
  fireEvent.click(await screen.findByTestId("count-deal"));
  fireEvent.click(await screen.findByTestId("nav-contact"));
  await screen.findByText("Анна Герасимова");
  releaseDeals({ rows: [row("deal", 1, "Поздняя сделка")], total: 1, nextCursor: null });
  await new Promise((r) => setTimeout(r, 50));
  expect(screen.queryByText("Поздняя сделка")).toBeNull();
  expect(screen.getByText("Анна Герасимова")).toBeTruthy();
});
