// The outbox's question about a create not known to have reached the portal, over a mocked
// IPC: the user reads what is known, and each answer goes to the shell as `outbox_settle`.
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";
import { I18nProvider } from "../../lib/i18n";
import { OutboxPage } from "./OutboxPage";

const entry = {
  id: 21,
  key: { entityType: "company", id: 140737488355329 },
  recordTitle: "ООО Для Ирины",
  op: "create",
  field: "*",
  fieldLabel: "Запись",
  base: null,
  mine: { fields: { title: "ООО Для Ирины", assignedById: 2 }, fm: [] },
  theirs: null,
  texts: { base: null, mine: null, theirs: null },
  state: "uncertain",
  attempts: 1,
  lastError: null,
  happenedMs: 1_772_431_200_000,
  source: "deviceOffline",
  uncertain: { sentMs: 1_772_431_500_000, assigneeId: 2, assigneeName: "Ирина Волкова", laterEntries: 0 },
};

function showOutbox(calls: [string, unknown][], lang: "en" | "ru") {
  mockIPC((cmd, payload) => {
    calls.push([cmd, payload]);
    if (cmd === "outbox_list") return { entries: [entry], open: 1, conflicts: 0, uncertain: 1 };
    if (cmd === "outbox_settle") return null;
    throw { code: "internal", message: `unexpected command ${cmd}` };
  });
  render(
    <I18nProvider initial={lang}>
      <OutboxPage revision={0} onOpen={() => {}} />
    </I18nProvider>,
  );
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("an uncertain create in the outbox", () => {
  it("is shown as such, cannot be discarded, and 'send again' goes to the shell", async () => {
    const calls: [string, unknown][] = [];
    showOutbox(calls, "en");
    const row = await screen.findByTestId("outbox-entry");
    expect(row.getAttribute("data-state")).toBe("uncertain");
    expect(row.textContent).toContain("not known whether it arrived");
    expect(screen.queryByTestId("outbox-discard")).toBeNull();
    expect(screen.queryByTestId("outbox-retry")).toBeNull();
    fireEvent.click(screen.getByTestId("outbox-decide"));
    const dialog = screen.getByTestId("uncertain-dialog");
    expect(dialog.textContent).toContain("“ООО Для Ирины” was sent on");
    expect(dialog.textContent).toContain("assigned to Ирина Волкова");
    fireEvent.click(screen.getByTestId("uncertain-send-again"));
    await waitFor(() =>
      expect(calls.some(([c, p]) => c === "outbox_settle" && JSON.stringify(p) === '{"request":{"id":21,"choice":"sendAgain"}}')).toBe(true),
    );
    await waitFor(() => expect(screen.queryByTestId("uncertain-dialog")).toBeNull());
  });

  it("asks in Russian too, and 'it is on the portal' goes to the shell; cancel sends nothing", async () => {
    const calls: [string, unknown][] = [];
    showOutbox(calls, "ru");
    fireEvent.click(await screen.findByTestId("outbox-decide"));
    expect(screen.getByTestId("uncertain-dialog").textContent).toContain("Есть ли запись на портале?");
    fireEvent.click(screen.getByTestId("uncertain-cancel"));
    expect(calls.some(([c]) => c === "outbox_settle")).toBe(false);
    fireEvent.click(screen.getByTestId("outbox-decide"));
    fireEvent.click(screen.getByTestId("uncertain-arrived"));
    await waitFor(() =>
      expect(calls.some(([c, p]) => c === "outbox_settle" && JSON.stringify(p) === '{"request":{"id":21,"choice":"arrived"}}')).toBe(true),
    );
  });
});
