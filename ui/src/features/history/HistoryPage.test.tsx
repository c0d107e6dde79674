// The History page and the card's History tab over a mocked IPC: what they ask the shell, and
// that values reach the screen as text.
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../../lib/i18n";
import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";
import type { HistoryListRequest } from "../../lib/ipc/bindings/HistoryListRequest";
import { DEFAULT_COLUMNS, visibleColumns } from "./columns";
import { HistoryPage } from "./HistoryPage";
import { HistoryTab } from "./HistoryTab";

const HOSTILE = "<img src=x onerror=alert(1)>";

function ev(seq: number, over: Partial<HistoryEvent> = {}): HistoryEvent {
  return {
    seq,
    record: { entityType: "contact", id: 3 },
    recordTitle: `${HOSTILE} Иванов`,
    happenedAt: "2026-11-27T10:00:00Z",
    receivedAt: null,
    authorId: 2,
    authorName: "Робот продаж",
    authorKind: "robot",
    source: "observed",
    syncState: "synced",
    deviceId: null,
    groupId: seq <= 2 ? 1 : seq,
    event: "created",
    field: null,
    fieldLabel: null,
    oldValue: null,
    newValue: null,
    oldDisplay: null,
    newDisplay: `${HOSTILE} Иванов`,
    note: null,
    hidden: false,
    ...over,
  };
}

const events = [ev(3, { hidden: true }), ev(2, { event: "field_changed", field: "name", fieldLabel: "Имя", oldDisplay: "A", newDisplay: HOSTILE }), ev(1)];

function mock(requests: HistoryListRequest[]) {
  mockIPC(
    (cmd, payload) => {
      const request = (payload as { request: unknown }).request;
      if (cmd === "history_list") {
        requests.push(request as HistoryListRequest);
        return { events, nextCursor: null, total: 3 };
      }
      if (cmd === "history_facets") return { fields: [], authors: [{ id: 2, name: "Робот продаж", kind: "robot" }], me: 1, isSupervisor: true };
      if (cmd === "record_as_of") return { key: { entityType: "contact", id: 3 }, at: "2026-11-27T10:00:00Z", fields: [{ field: "name", label: "Имя", value: "A", changedSince: true }] };
      throw { code: "internal", message: `unexpected ${cmd}` };
    },
    { shouldMockEvents: true },
  );
}

afterEach(() => {
  vi.restoreAllMocks();
  cleanup();
  clearMocks();
  window.localStorage.clear();
});

describe("History page", () => {
  it("counts in words, shows values as text, marks hidden entries and robots, and filters by the today preset", async () => {
    // The virtual table renders the rows of a viewport; happy-dom has no layout.
    vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(600);
    const requests: HistoryListRequest[] = [];
    mock(requests);
    const { container } = render(
      <I18nProvider initial="ru">
        <HistoryPage portalName="demo" revision={0} onOpen={() => {}} />
      </I18nProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("history-total").textContent).toBe("3 записи"));
    await waitFor(() => expect(container.textContent).toContain(HOSTILE));
    expect(container.querySelector("img")).toBeNull();
    // Every column the user chose is there (the table scrolls sideways; none is dropped).
    const headers = [...container.querySelectorAll('[role="columnheader"]')].map((h) => h.textContent);
    expect(headers.length).toBe(visibleColumns(DEFAULT_COLUMNS).length);
    expect(headers.join(" ")).toContain("Новое значение");
    expect(container.querySelector('[data-hidden="true"]')?.textContent).toContain("скрыто");
    expect(requests[0]?.withTotal).toBe(true);
    expect(requests[0]?.filter.from).toBeNull();

    fireEvent.click(screen.getByTestId("preset-today"));
    await waitFor(() => expect(requests.at(-1)?.filter.from).not.toBeNull());
    const from = new Date(requests.at(-1)?.filter.from ?? "");
    expect([from.getHours(), from.getMinutes()]).toEqual([0, 0]);
    expect(screen.getByTestId("preset-today").getAttribute("aria-pressed")).toBe("true");
    // A supervisor may hide the selected entry (not one already hidden).
    expect(screen.queryByTestId("hide-entry")).toBeNull();
    const second = container.querySelector('[role="row"][aria-rowindex="2"]');
    if (second) fireEvent.click(second);
    expect(await screen.findByTestId("hide-entry")).toBeTruthy();
  });

  it("keeps the column choice per portal user", async () => {
    mock([]);
    render(
      <I18nProvider initial="en">
        <HistoryPage portalName="demo" revision={0} onOpen={() => {}} />
      </I18nProvider>,
    );
    await screen.findByText("3 entries");
    fireEvent.click(screen.getByTestId("columns-button"));
    fireEvent.click(screen.getByRole("checkbox", { name: "Note" }));
    const saved = JSON.parse(window.localStorage.getItem("kartoteka.history.columns.demo.1") ?? "{}") as { hidden: string[] };
    expect(saved.hidden).not.toContain("note");
  });
});

describe("card History tab", () => {
  it("groups events by save with the author marked as a robot, and shows the record as it was", async () => {
    const requests: HistoryListRequest[] = [];
    mock(requests);
    const { container } = render(
      <I18nProvider initial="ru">
        <HistoryTab recordKey={{ entityType: "contact", id: 3 }} revision={0} />
      </I18nProvider>,
    );
    await waitFor(() => expect(screen.getAllByTestId("history-save")).toHaveLength(2));
    expect(requests[0]?.filter.record).toEqual({ entityType: "contact", id: 3 });
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getAllByTestId("new-value").map((n) => n.textContent)).toContain(HOSTILE);
    expect(screen.getAllByTestId("save-author")[0]?.textContent).toContain("робот");
    fireEvent.click(screen.getByTestId("as-of-show"));
    expect((await screen.findByTestId("as-of-fields")).textContent).toContain("изменено позже");
  });
});
