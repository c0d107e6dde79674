// Editing as a user meets it, over a mocked IPC: the card's edit mode sends only what changed,
// refusals are shown next to their fields, deleting asks first, the header's switch and badge,
// and the outbox's discard asks first.
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../../lib/i18n";
import { Header } from "../shell/Header";
import { OutboxPage } from "../outbox/OutboxPage";
import { RecordCard } from "../records/RecordCard";
import { CreateRecord } from "./CreateRecord";

type Handler = (cmd: string, payload?: unknown) => unknown;

function ipc(handlers: Record<string, Handler>, calls: [string, unknown][]): Handler {
  return (cmd, payload) => {
    calls.push([cmd, payload]);
    const h = handlers[cmd];
    if (!h) throw { code: "internal", message: `unexpected command ${cmd}` };
    return h(cmd, payload);
  };
}

const meta = { isRequired: false, isReadOnly: false, isImmutable: false, isMultiple: false, options: [], statusType: null };
const deal = {
  key: { entityType: "deal", id: 7 },
  title: "Поставка",
  stageName: null,
  stageColor: null,
  responsibleName: null,
  updatedTime: null,
  fields: [
    { name: "title", label: "Название", fieldType: "string", isCustom: false, values: ["Поставка"], raw: "Поставка", ...meta, isRequired: true },
    { name: "opportunity", label: "Сумма", fieldType: "double", isCustom: false, values: ["1500"], raw: "1500.00", ...meta },
    { name: "createdTime", label: "Создана", fieldType: "datetime", isCustom: false, values: ["x"], raw: "2026-01-01T00:00:00+03:00", ...meta, isReadOnly: true },
  ],
  multiFields: [],
  links: [{ key: { entityType: "contact", id: 4 }, title: "Анна", isPrimary: true, phone: null, email: null }],
  linkFields: [{ name: "contactIds", label: "Контакты", fieldType: "crm_contact", isCustom: false, values: ["4"], raw: [4], ...meta, isMultiple: true }],
  deleted: false,
  pendingFields: [],
};
const refs = { stages: [], categories: [], users: [], fields: [], statuses: [] };
const saved = { key: { entityType: "deal", id: 7 }, queued: 1, historySeqs: [1] };

afterEach(() => {
  vi.restoreAllMocks();
  cleanup();
  clearMocks();
});

function renderCard() {
  render(
    <I18nProvider initial="en">
      <RecordCard recordKey={{ entityType: "deal", id: 7 }} revision={0} onOpen={() => {}} onClose={() => {}} />
    </I18nProvider>,
  );
}

describe("card edit mode", () => {
  it("saves only the changed fields with Enter, leaving read-only fields out of the form", async () => {
    const calls: [string, unknown][] = [];
    mockIPC(ipc({ record_get: () => deal, references_list: () => refs, record_update: () => saved }, calls));
    renderCard();
    fireEvent.click(await screen.findByTestId("card-edit"));
    const amount = await screen.findByTestId("edit-opportunity");
    expect(screen.queryByTestId("edit-createdTime")).toBeNull();
    fireEvent.change(amount, { target: { value: "2 500,50" } });
    fireEvent.submit(screen.getByTestId("record-form"));
    await waitFor(() => expect(calls.some(([c]) => c === "record_update")).toBe(true));
    const [, payload] = calls.find(([c]) => c === "record_update")!;
    expect(payload).toEqual({ request: { key: { entityType: "deal", id: 7 }, edit: { fields: { opportunity: "2500.50" }, multiFields: [] } } });
    await waitFor(() => expect(screen.queryByTestId("record-form")).toBeNull());
  });

  it("does not send a required field emptied, and shows the portal's problems next to their fields", async () => {
    const calls: [string, unknown][] = [];
    const problems = [{ field: "opportunity", label: "Сумма", messageRu: "Слишком много", messageEn: "Too much" }];
    mockIPC(
      ipc(
        {
          record_get: () => deal,
          references_list: () => refs,
          record_update: () => {
            throw { code: "invalidInput", message: "refused", params: { problems: JSON.stringify(problems) } };
          },
        },
        calls,
      ),
    );
    renderCard();
    fireEvent.click(await screen.findByTestId("card-edit"));
    fireEvent.change(await screen.findByTestId("edit-title"), { target: { value: "" } });
    fireEvent.submit(screen.getByTestId("record-form"));
    expect((await screen.findByTestId("problem-title")).textContent).toBe("This field is required");
    expect(calls.some(([c]) => c === "record_update")).toBe(false);

    fireEvent.change(screen.getByTestId("edit-title"), { target: { value: "Поставка 2" } });
    fireEvent.change(screen.getByTestId("edit-opportunity"), { target: { value: "999999999" } });
    fireEvent.submit(screen.getByTestId("record-form"));
    expect((await screen.findByTestId("problem-opportunity")).textContent).toBe("Too much");
    expect(screen.getByTestId("record-form")).toBeTruthy();
  });

  it("Escape leaves the form without saving; removing a contact link is an edit of contactIds", async () => {
    const calls: [string, unknown][] = [];
    mockIPC(ipc({ record_get: () => deal, references_list: () => refs, record_update: () => saved }, calls));
    renderCard();
    fireEvent.click(await screen.findByTestId("card-edit"));
    fireEvent.keyDown(await screen.findByTestId("edit-title"), { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("record-form")).toBeNull());
    fireEvent.click(screen.getByTestId("card-edit"));
    fireEvent.click(await screen.findByRole("button", { name: "Remove the link: Анна" }));
    fireEvent.submit(screen.getByTestId("record-form"));
    await waitFor(() => expect(calls.some(([c]) => c === "record_update")).toBe(true));
    const [, payload] = calls.find(([c]) => c === "record_update")!;
    expect((payload as { request: { edit: { fields: unknown } } }).request.edit.fields).toEqual({ contactIds: [] });
  });

  it("asks before deleting", async () => {
    const calls: [string, unknown][] = [];
    mockIPC(ipc({ record_get: () => deal, record_delete: () => saved }, calls));
    renderCard();
    fireEvent.click(await screen.findByTestId("card-delete"));
    expect(screen.getByTestId("confirm-dialog").textContent).toContain("Delete “Поставка”?");
    fireEvent.click(screen.getByTestId("confirm-no"));
    expect(calls.some(([c]) => c === "record_delete")).toBe(false);
    fireEvent.click(screen.getByTestId("card-delete"));
    fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(calls.some(([c]) => c === "record_delete")).toBe(true));
  });

  it("refuses a date that does not exist in words and never sends it as a cleared field", async () => {
    const calls: [string, unknown][] = [];
    const dated = {
      ...deal,
      fields: [...deal.fields, { name: "begindate", label: "Дата начала", fieldType: "date", isCustom: false, values: ["01.03.2026"], raw: "2026-03-01", ...meta }],
    };
    mockIPC(ipc({ record_get: () => dated, references_list: () => refs, record_update: () => saved }, calls));
    renderCard();
    fireEvent.click(await screen.findByTestId("card-edit"));
    const date = (await screen.findByTestId("edit-begindate")) as HTMLInputElement;
    expect(date.value).toBe("2026-03-01");
    // What the WebView does with 31.02.2026 typed into a date input: no value, `badInput`.
    Object.defineProperty(date, "validity", { configurable: true, get: () => ({ valid: false, badInput: true }) });
    fireEvent.change(date, { target: { value: "" } });
    fireEvent.change(screen.getByTestId("edit-opportunity"), { target: { value: "2000" } });
    fireEvent.submit(screen.getByTestId("record-form"));
    expect((await screen.findByTestId("problem-begindate")).textContent).toBe("There is no such date: correct it");
    expect(calls.some(([c]) => c === "record_update")).toBe(false);

    // Corrected, it is sent as the day typed.
    Object.defineProperty(date, "validity", { configurable: true, get: () => ({ valid: true, badInput: false }) });
    fireEvent.change(date, { target: { value: "2026-02-28" } });
    fireEvent.submit(screen.getByTestId("record-form"));
    await waitFor(() => expect(calls.some(([c]) => c === "record_update")).toBe(true));
    const [, payload] = calls.find(([c]) => c === "record_update")!;
    expect((payload as { request: { edit: { fields: unknown } } }).request.edit.fields).toEqual({ begindate: "2026-02-28", opportunity: "2000" });
  });

  it("marks a record not uploaded yet and offers restore for a deleted one", async () => {
    const calls: [string, unknown][] = [];
    const local = { ...deal, key: { entityType: "deal", id: 2 ** 47 + 1 }, deleted: true, pendingFields: ["*"] };
    mockIPC(ipc({ record_get: () => local, record_restore: () => ({ ...saved, key: { entityType: "deal", id: 2 ** 47 + 2 } }) }, calls));
    renderCard();
    expect((await screen.findByTestId("chip-not-uploaded")).textContent).toBe("not uploaded yet");
    expect(screen.getByTestId("chip-pending")).toBeTruthy();
    expect(screen.queryByTestId("card-edit")).toBeNull();
    fireEvent.click(screen.getByTestId("card-restore"));
    await waitFor(() => expect(calls.some(([c]) => c === "record_restore")).toBe(true));
  });

  it("shows the same record again when its deletion is undone before the upload", async () => {
    const calls: [string, unknown][] = [];
    let deleted = true;
    const opened: unknown[] = [];
    mockIPC(
      ipc(
        {
          record_get: () => ({ ...deal, deleted }),
          record_restore: () => {
            deleted = false;
            return { ...saved, key: deal.key, queued: 0 };
          },
        },
        calls,
      ),
    );
    render(
      <I18nProvider initial="en">
        <RecordCard recordKey={{ entityType: "deal", id: 7 }} revision={0} onOpen={(k) => opened.push(k)} onClose={() => {}} />
      </I18nProvider>,
    );
    fireEvent.click(await screen.findByTestId("card-restore"));
    expect(await screen.findByTestId("card-edit")).toBeTruthy();
    expect(screen.queryByTestId("card-restore")).toBeNull();
    expect(opened).toEqual([]);
  });
});

describe("create form", () => {
  it("requires what the portal requires, starts a deal in the first stage and opens the new record", async () => {
    const calls: [string, unknown][] = [];
    const fieldMeta = (name: string, fieldType: string, label: string, extra: Record<string, unknown> = {}) => ({
      name,
      fieldType,
      label,
      isRequired: false,
      isReadOnly: false,
      isImmutable: false,
      isMultiple: false,
      isCustom: false,
      statusType: null,
      options: [],
      ...extra,
    });
    const stage = (statusId: string, sort: number) => ({ listId: "DEAL_STAGE", statusId, name: statusId, sort, semantics: "process", color: null, categoryId: 0 });
    const dealRefs = {
      ...refs,
      stages: [stage("PREPARATION", 20), stage("NEW", 10)],
      fields: [
        fieldMeta("title", "string", "Название", { isRequired: true }),
        fieldMeta("stageId", "crm_status", "Стадия", { isRequired: true }),
        fieldMeta("contactId", "crm_contact", "Контакт"),
        fieldMeta("contactIds", "crm_contact", "Контакты", { isMultiple: true }),
      ],
    };
    const opened: unknown[] = [];
    const created = { key: { entityType: "deal", id: 2 ** 47 + 5 }, queued: 1, historySeqs: [3] };
    mockIPC(ipc({ references_list: () => dealRefs, record_create: () => created }, calls));
    render(
      <I18nProvider initial="en">
        <CreateRecord entityType="deal" onCreated={(k) => opened.push(k)} onClose={() => {}} />
      </I18nProvider>,
    );
    await screen.findByTestId("edit-title");
    expect(screen.queryByTestId("edit-link-contactId")).toBeNull();
    expect(screen.getByTestId("edit-link-contactIds")).toBeTruthy();
    await waitFor(() => expect((screen.getByTestId("edit-stageId") as HTMLSelectElement).value).toBe("NEW"));
    fireEvent.submit(screen.getByTestId("record-form"));
    expect((await screen.findByTestId("problem-title")).textContent).toBe("This field is required");
    fireEvent.change(screen.getByTestId("edit-title"), { target: { value: "Новая сделка" } });
    fireEvent.submit(screen.getByTestId("record-form"));
    await waitFor(() => expect(opened).toEqual([created.key]));
    const [, payload] = calls.find(([c]) => c === "record_create")!;
    expect(payload).toEqual({ request: { entityType: "deal", edit: { fields: { title: "Новая сделка", stageId: "NEW" }, multiFields: [] } } });
  });
});

describe("header and outbox", () => {
  it("shows the unsent-edits badge and the work-offline switch", () => {
    const toggled: boolean[] = [];
    render(
      <I18nProvider initial="ru">
        <Header
          title="x"
          status={{ mode: "demo", portalName: "p", online: true, lastSyncAt: null, workOffline: true, missingScopes: [] }}
          sync={null}
          onSync={() => {}}
          outbox={{ open: 3, conflicts: 1 }}
          onWorkOffline={(v) => toggled.push(v)}
        />
      </I18nProvider>,
    );
    expect(screen.getByTestId("outbox-badge").textContent).toContain("3");
    expect(screen.getByTestId("connection").textContent).toBe("Офлайн по выбору");
    const toggle = screen.getByRole("switch", { name: "Работать офлайн" });
    fireEvent.click(toggle);
    expect(toggled).toEqual([false]);
  });

  it("discards an entry only after confirmation", async () => {
    const calls: [string, unknown][] = [];
    const entry = {
      id: 11,
      key: { entityType: "deal", id: 7 },
      recordTitle: "Поставка",
      op: "update",
      field: "opportunity",
      fieldLabel: "Сумма",
      base: "1500",
      mine: "2500",
      theirs: null,
      texts: { base: null, mine: null, theirs: null },
      state: "rejected",
      attempts: 2,
      lastError: "ACCESS_DENIED",
      happenedMs: 1_700_000_000_000,
      source: "deviceOffline",
    };
    mockIPC(ipc({ outbox_list: () => ({ entries: [entry], open: 1, conflicts: 0 }), outbox_discard: () => null, outbox_retry: () => 1 }, calls));
    render(
      <I18nProvider initial="en">
        <OutboxPage revision={0} onOpen={() => {}} />
      </I18nProvider>,
    );
    const row = await screen.findByTestId("outbox-entry");
    expect(row.textContent).toContain("ACCESS_DENIED");
    expect(row.textContent).toContain("rejected by the portal");
    fireEvent.click(screen.getByTestId("outbox-retry"));
    await waitFor(() => expect(calls.some(([c, p]) => c === "outbox_retry" && JSON.stringify(p) === '{"request":{"id":11}}')).toBe(true));
    fireEvent.click(screen.getByTestId("outbox-discard"));
    expect(screen.getByTestId("confirm-dialog").textContent).toContain("Discard the change of “Сумма” in “Поставка”?");
    fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(calls.some(([c]) => c === "outbox_discard")).toBe(true));
  });
  it("imports a file of exported edits: the file's text goes to the shell and the count is shown", async () => {
    const calls: Array<[string, unknown]> = [];
    mockIPC(ipc({ outbox_list: () => ({ entries: [], open: 0, conflicts: 0 }), outbox_import: () => 2 }, calls));
    render(
      <I18nProvider initial="ru">
        <OutboxPage revision={0} onOpen={() => {}} />
      </I18nProvider>,
    );
    const text = JSON.stringify({ format: "kartoteka-unsent-edits/1", edits: [] });
    const file = new File([text], "unsent.json", { type: "application/json" });
    fireEvent.change(await screen.findByTestId("outbox-import-file"), { target: { files: [file] } });
    await waitFor(() => expect(screen.getByTestId("outbox-notice").textContent).toContain("Снова в очереди из файла: 2"));
    const sent = calls.find(([c]) => c === "outbox_import");
    expect(JSON.stringify(sent?.[1])).toContain("kartoteka-unsent-edits/1");
  });
  it("asks before importing a file that names no portal and no user, and imports it only on yes", async () => {
    const calls: Array<[string, unknown]> = [];
    const importer = (_cmd: string, payload: unknown) => {
      const request = (payload as { request: { originConfirmed: boolean } }).request;
      if (!request.originConfirmed) {
        throw { code: "editsOriginUnknown", message: "no origin", params: { herePortal: "b.bitrix24.ru", hereUser: "Мария Б" } };
      }
      return 3;
    };
    mockIPC(ipc({ outbox_list: () => ({ entries: [], open: 0, conflicts: 0 }), outbox_import: importer }, calls));
    render(
      <I18nProvider initial="ru">
        <OutboxPage revision={0} onOpen={() => {}} />
      </I18nProvider>,
    );
    const file = new File([JSON.stringify({ format: "kartoteka-unsent-edits/1", edits: [] })], "old.json", { type: "application/json" });
    fireEvent.change(await screen.findByTestId("outbox-import-file"), { target: { files: [file] } });
    const question = await screen.findByTestId("outbox-confirm-origin");
    expect(question.textContent).toContain("b.bitrix24.ru");
    expect(question.textContent).toContain("Мария Б");
    expect(screen.queryByTestId("outbox-notice")).toBeNull();
    fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(screen.getByTestId("outbox-notice").textContent).toContain("Снова в очереди из файла: 3"));
    const sent = calls.filter(([c]) => c === "outbox_import").map(([, p]) => (p as { request: { originConfirmed: boolean } }).request.originConfirmed);
    expect(sent).toEqual([false, true]);
  });
});
