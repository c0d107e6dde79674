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

/** The demo portal's shell, with `records_list` answered by `page` per entity type. */
function renderWithPortal(page: (entityType: string | undefined) => unknown) {
  vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(600);
  vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(1100);
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
          return page(p?.request?.entityType);
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
}

/** A page that answers only when `release` is called. */
function pending() {
  let release: (v: unknown) => void = () => {};
  const page = new Promise((resolve) => {
    release = resolve;
  });
  return { page, release: (v: unknown) => release(v) };
}

it("shows no row of the previous list while the next list's first page is on its way", async () => {
  const contacts = pending();
  renderWithPortal((t) =>
    t === "contact" ? contacts.page : { rows: [row("deal", 1, "Сделка из прошлого списка")], total: 1, nextCursor: null },
  );
  fireEvent.click(await screen.findByTestId("count-deal"));
  await screen.findByText("Сделка из прошлого списка");

  fireEvent.click(await screen.findByTestId("nav-contact"));
  // The contacts page has not answered yet: the deal must already be gone.
  expect(screen.queryByText("Сделка из прошлого списка")).toBeNull();

  contacts.release({ rows: [row("contact", 2, "Анна Герасимова")], total: 1, nextCursor: null });
  await screen.findByText("Анна Герасимова");
  expect(screen.queryByText("Сделка из прошлого списка")).toBeNull();
});

it("drops the previous list's late answer instead of showing it under the new title", async () => {
  const deals = pending();
  renderWithPortal((t) =>
    t === "deal" ? deals.page : { rows: [row("contact", 2, "Анна Герасимова")], total: 1, nextCursor: null },
  );
  fireEvent.click(await screen.findByTestId("count-deal"));
  fireEvent.click(await screen.findByTestId("nav-contact"));
  await screen.findByText("Анна Герасимова");
  deals.release({ rows: [row("deal", 1, "Поздняя сделка")], total: 1, nextCursor: null });
  await new Promise((r) => setTimeout(r, 50));
  expect(screen.queryByText("Поздняя сделка")).toBeNull();
  expect(screen.getByText("Анна Герасимова")).toBeTruthy();
});
