// The UI over a mocked IPC: the screens ask the shell the right commands and render the answers
// as text in the chosen language.
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { RecordCard } from "./features/records/RecordCard";
import { I18nProvider } from "./lib/i18n";
import { EVENT_NAME } from "./lib/ipc";

type Handler = (cmd: string, payload?: unknown) => unknown;

const demoStatus = { mode: "demo", portalName: "127.0.0.1:4242", online: true, lastSyncAt: null };
const counts = {
  counts: [
    { entityType: "lead", count: 120 },
    { entityType: "deal", count: 95 },
    { entityType: "contact", count: 150 },
    { entityType: "company", count: 60 },
  ],
};
const idleSync = { running: false, progress: null, lastSyncAt: null, lastError: null };

function portal(extra: Record<string, Handler> = {}): Handler {
  const base: Record<string, Handler> = {
    portal_status: () => demoStatus,
    portal_counts: () => counts,
    sync_status: () => idleSync,
    ...extra,
  };
  return (cmd, payload) => {
    const h = base[cmd];
    if (!h) throw { code: "internal", message: `unexpected command ${cmd}` };
    return h(cmd, payload);
  };
}

afterEach(() => {
  vi.restoreAllMocks();
  cleanup();
  clearMocks();
  window.localStorage.clear();
});

describe("first screen", () => {
  it("shows the demo portal's counts per entity type", async () => {
    mockIPC(portal(), { shouldMockEvents: true });
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    expect(await screen.findByText("Demo portal")).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId("count-total").textContent).toBe("425"));
    expect(screen.getByTestId("count-deal").textContent).toContain("95");
    expect(screen.getByText("Online")).toBeTruthy();
    // The demo portal is named as such; its loopback address is only in the tooltip.
    expect(screen.queryByText("127.0.0.1:4242")).toBeNull();
    expect(screen.getByTestId("portal-badge").getAttribute("title")).toBe("127.0.0.1:4242");
  });

  it("says which scopes the webhook lacks and what goes without each, until dismissed", async () => {
    mockIPC(
      portal({ portal_status: () => ({ ...demoStatus, missingScopes: ["department"] }) }),
      { shouldMockEvents: true },
    );
    render(
      <I18nProvider initial="ru">
        <App />
      </I18nProvider>,
    );
    const notice = await screen.findByTestId("scope-notice");
    expect(notice.textContent).toContain("department");
    expect(notice.textContent).toContain("руководители отделов не считаются руководителями");
    expect(notice.textContent).not.toContain("user_brief");
    fireEvent.click(screen.getByRole("button", { name: "Понятно" }));
    expect(screen.queryByTestId("scope-notice")).toBeNull();
  });

  it("shows no scope notice when the webhook has every scope", async () => {
    mockIPC(portal({ portal_status: () => ({ ...demoStatus, missingScopes: [] }) }), { shouldMockEvents: true });
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    expect(await screen.findByText("Demo portal")).toBeTruthy();
    expect(screen.queryByTestId("scope-notice")).toBeNull();
  });

  it("speaks Russian by default and switches to English", async () => {
    mockIPC(portal(), { shouldMockEvents: true });
    render(
      <I18nProvider>
        <App />
      </I18nProvider>,
    );
    expect(await screen.findByText("Обзор портала")).toBeTruthy();
    fireEvent.change(screen.getByRole("combobox", { name: "Язык" }), { target: { value: "en" } });
    expect(await screen.findByText("Portal overview")).toBeTruthy();
    expect(window.localStorage.getItem("kartoteka.language")).toBe("en");
  });

  it("says the keyring lost the saved webhook and asks for it again, instead of showing the demo", async () => {
    mockIPC(
      portal({
        portal_status: () => ({
          mode: "notConfigured",
          portalName: "",
          online: false,
          lastSyncAt: null,
          problem: { code: "secretStoreUnavailable", message: "no secret store is available" },
        }),
      }),
      { shouldMockEvents: true },
    );
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    expect((await screen.findByRole("alert")).textContent).toContain("Paste the webhook again");
    expect(screen.queryByText("Demo portal")).toBeNull();
  });

  it("translates an error code from the shell into the user's language", async () => {
    mockIPC(
      portal({
        portal_counts: () => {
          throw { code: "planRestricted", message: "Bitrix24 error 'ACCESS_DENIED' (HTTP 403)" };
        },
      }),
      { shouldMockEvents: true },
    );
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    expect((await screen.findByRole("alert")).textContent).toContain("plan does not include the REST API");
  });

  it("goes offline when the shell says the portal stopped answering", async () => {
    mockIPC(portal(), { shouldMockEvents: true });
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    await screen.findByText("Online");
    await act(async () => {
      await emit(EVENT_NAME, { type: "connectionChanged", online: false });
    });
    expect(await screen.findByText("Offline")).toBeTruthy();
  });

  it("shows the connect screen when no portal is configured", async () => {
    mockIPC(portal({ portal_status: () => ({ ...demoStatus, mode: "notConfigured", portalName: "" }) }), {
      shouldMockEvents: true,
    });
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    expect(await screen.findByText("Try the demo portal")).toBeTruthy();
  });
});

describe("connect screen", () => {
  const notConfigured = () => ({ ...demoStatus, mode: "notConfigured", portalName: "" });

  it("says what is wrong with a pasted URL before asking the portal", async () => {
    const asked: string[] = [];
    mockIPC(
      portal({
        portal_status: notConfigured,
        portal_connect: () => {
          asked.push("portal_connect");
          return demoStatus;
        },
      }),
      { shouldMockEvents: true },
    );
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    const input = await screen.findByLabelText("Webhook URL");
    fireEvent.change(input, { target: { value: "http://acme.bitrix24.ru/rest/1/abc/" } });
    fireEvent.click(screen.getByText("Connect"));
    expect((await screen.findByRole("alert")).textContent).toContain("https://");
    expect(asked).toEqual([]);
  });

  it("shows the portal's refusal in the user's words", async () => {
    mockIPC(
      portal({
        portal_status: notConfigured,
        portal_connect: () => {
          throw { code: "noAccess", message: "insufficient_scope" };
        },
      }),
      { shouldMockEvents: true },
    );
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    const input = await screen.findByLabelText("Webhook URL");
    fireEvent.change(input, { target: { value: "https://acme.bitrix24.ru/rest/1/abc/" } });
    fireEvent.click(screen.getByText("Connect"));
    expect((await screen.findByRole("alert")).textContent).toContain("no CRM rights");
  });
});

describe("record list", () => {
  const row = (id: number, title: string) => ({
    key: { entityType: "contact", id },
    title,
    stageId: null,
    stageName: null,
    stageColor: null,
    responsibleName: "Ivan Petrov",
    amount: null,
    currency: null,
    phone: "+7 900 000-00-0" + id,
    email: null,
    companyTitle: null,
    createdTime: null,
    updatedTime: null,
    hasPendingEdits: false,
  });

  it("lists records from the replica, searches, and opens a card with the keyboard", async () => {
    // happy-dom has no layout: give the list a viewport so the virtualizer renders rows.
    vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(600);
    vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(1000);
    const requests: Array<Record<string, unknown>> = [];
    mockIPC(
      portal({
        references_list: () => ({ stages: [], categories: [], users: [] }),
        records_list: (_cmd, payload) => {
          const request = (payload as { request: Record<string, unknown> }).request;
          requests.push(request);
          const rows = request.search ? [row(2, "<img src=x onerror=alert(1)>")] : [row(1, "Anna"), row(2, "<img src=x onerror=alert(1)>")];
          return { rows, total: rows.length, nextCursor: null };
        },
        record_get: () => ({
          key: { entityType: "contact", id: 2 },
          title: "<img src=x onerror=alert(1)>",
          stageName: null,
          stageColor: null,
          responsibleName: null,
          createdTime: null,
          updatedTime: null,
          fields: [],
          multiFields: [],
          links: [],
          linksTotal: 0,
        }),
      }),
      { shouldMockEvents: true },
    );
    const { container } = render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    fireEvent.click(await screen.findByTestId("count-contact"));
    expect(await screen.findByText("Anna")).toBeTruthy();
    expect(screen.getByText("Found: 2")).toBeTruthy();
    expect(requests[0]).toMatchObject({ entityType: "contact", search: null, cursor: null });

    fireEvent.change(screen.getByRole("searchbox"), { target: { value: "img" } });
    await waitFor(() => expect(screen.getByText("Found: 1")).toBeTruthy());
    expect(requests.at(-1)).toMatchObject({ search: "img" });

    const body = screen.getByTestId("vtable-body");
    fireEvent.keyDown(body, { key: "Enter" });
    expect((await screen.findByRole("heading", { level: 2 })).textContent).toBe("<img src=x onerror=alert(1)>");
    expect(container.querySelector("img")).toBeNull();
  });
});

describe("record card", () => {
  it("renders values as text, so markup in a name is shown, not run", async () => {
    const evil = "<img src=x onerror=alert(1)>";
    mockIPC(
      portal({
        record_get: () => ({
          key: { entityType: "contact", id: 7 },
          title: evil,
          stageName: null,
          stageColor: null,
          responsibleName: null,
          createdTime: null,
          updatedTime: null,
          fields: [{ name: "comments", label: "Comment", fieldType: "text", isCustom: false, values: [evil] }],
          multiFields: [{ id: 1, kind: "EMAIL", valueType: "WORK", value: evil }],
          links: [],
          linksTotal: 0,
        }),
      }),
    );
    const { container } = render(
      <I18nProvider initial="en">
        <RecordCard recordKey={{ entityType: "contact", id: 7 }} revision={0} onOpen={() => {}} onClose={() => {}} />
      </I18nProvider>,
    );
    expect((await screen.findByRole("heading", { level: 2 })).textContent).toBe(evil);
    expect(container.querySelector("img")).toBeNull();
    // Not a valid e-mail address: shown as text, not as a mailto link.
    expect(container.querySelector("a")).toBeNull();
  });

  it("shows the deal's contact with its phone, folds empty fields, and opens the contact", async () => {
    const opened: unknown[] = [];
    mockIPC(
      portal({
        record_get: () => ({
          key: { entityType: "deal", id: 4 },
          title: "Service contract",
          stageName: null,
          stageColor: null,
          responsibleName: null,
          createdTime: null,
          updatedTime: null,
          fields: [
            { name: "title", label: "Name", fieldType: "string", isCustom: false, values: ["Service contract"] },
            { name: "quoteId", label: "Quote", fieldType: { other: "crm_quote" }, isCustom: false, values: [] },
            { name: "UF_CRM_NOTE", label: "Note", fieldType: "string", isCustom: true, values: ["City: Tyumen"] },
          ],
          multiFields: [],
          links: [
            { key: { entityType: "contact", id: 81 }, title: "Novak Sophie", isPrimary: true, phone: "+7 495 436-19-11", email: null },
          ],
          // The replica cuts a card's links: the card says how many more there are.
          linksTotal: 3,
        }),
      }),
    );
    render(
      <I18nProvider initial="en">
        <RecordCard recordKey={{ entityType: "deal", id: 4 }} revision={0} onOpen={(k) => opened.push(k)} onClose={() => {}} />
      </I18nProvider>,
    );
    const phone = await screen.findByTestId("link-phone");
    expect(phone.textContent).toBe("+7 495 436-19-11");
    expect(phone.getAttribute("href")).toBe("tel:+74954361911");
    expect(screen.getByText("Note")).toBeTruthy();
    expect(screen.getByText("City: Tyumen")).toBeTruthy();
    // The empty quote is not shown until asked for, and never as "0".
    expect(screen.queryByText("Quote")).toBeNull();
    fireEvent.click(screen.getByText("Show empty fields (1)"));
    expect(screen.getByText("Quote")).toBeTruthy();
    expect(screen.getByTestId("links-more").textContent).toBe("and 2 more");
    fireEvent.click(screen.getByText("Novak Sophie"));
    expect(opened).toEqual([{ entityType: "contact", id: 81 }]);
  });
});

describe("switching portals with unsent edits", () => {
  it("asks first and exports the unsent edits to a file before the connect screen", async () => {
    const calls: string[] = [];
    mockIPC(
      (cmd, payload) => {
        calls.push(cmd);
        return portal({
          outbox_list: () => ({ entries: [], open: 2, conflicts: 0 }),
          outbox_export: () => ({ path: "/home/u/Downloads/kartoteka-outbox.json", entries: 2 }),
        })(cmd, payload);
      },
      { shouldMockEvents: true },
    );
    render(
      <I18nProvider initial="en">
        <App />
      </I18nProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("outbox-badge").textContent).toContain("2"));
    fireEvent.click(screen.getByTestId("nav-connect"));
    expect(screen.getByTestId("switch-unsent").textContent).toContain("2 edits");
    expect(screen.queryByText("Connect to Bitrix24")).toBeNull();
    fireEvent.click(screen.getByTestId("confirm-yes"));
    expect((await screen.findByTestId("switch-exported")).textContent).toContain("kartoteka-outbox.json");
    expect(calls).toContain("outbox_export");
    expect(screen.getAllByText("Connect to Bitrix24").length).toBeGreaterThan(0);
  });
});
