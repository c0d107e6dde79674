// Lists and cards as a user meets them (issue 11): sortable columns, names and values as a person
// reads them, keyboard and focus, the connect screen's answers, links that never navigate.
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../../App";
import { I18nProvider } from "../../lib/i18n";
import { EVENT_NAME } from "../../lib/ipc";
import { guardLinks, linkMayNavigate } from "../../lib/links";
import { columnsThatFit } from "../../lib/table/VirtualTable";
import { renderBbcode, stripBbcode } from "./bbcode";
import { RecordCard, withMoney } from "./RecordCard";

type Handler = (cmd: string, payload?: unknown) => unknown;

const demoStatus = { mode: "demo", portalName: "127.0.0.1:4242", online: true, lastSyncAt: null };
const counts = {
  counts: [
    { entityType: "lead", count: 1 },
    { entityType: "deal", count: 2 },
    { entityType: "contact", count: 2 },
    { entityType: "company", count: 1 },
  ],
};
const idleSync = { running: false, progress: null, lastSyncAt: null, lastError: null };

function portal(extra: Record<string, Handler> = {}): Handler {
  const base: Record<string, Handler> = {
    portal_status: () => demoStatus,
    portal_counts: () => counts,
    sync_status: () => idleSync,
    references_list: () => ({ stages: [], categories: [], users: [] }),
    ...extra,
  };
  return (cmd, payload) => {
    const h = base[cmd];
    if (!h) throw { code: "internal", message: `unexpected command ${cmd}` };
    return h(cmd, payload);
  };
}

const row = (entityType: string, id: number, title: string) => ({
  key: { entityType, id },
  title,
  stageId: null,
  stageName: null,
  stageColor: null,
  responsibleName: null,
  amount: 1350000.5,
  currency: "RUB",
  phone: "+7 903 218-08-88",
  email: "anna.gerasimova@example.com",
  companyTitle: null,
  createdTime: null,
  updatedTime: "2026-11-20T10:00:00Z",
  hasPendingEdits: false,
});

const card = (id: number, extra: Record<string, unknown> = {}) => ({
  key: { entityType: "deal", id },
  title: `Deal ${id}`,
  stageName: null,
  stageColor: null,
  responsibleName: null,
  createdTime: null,
  updatedTime: null,
  fields: [
    { name: "title", label: "Name", fieldType: "string", isCustom: false, values: [`Deal ${id}`] },
    { name: "quoteId", label: "Quote", fieldType: { other: "crm_quote" }, isCustom: false, values: [] },
  ],
  multiFields: [],
  links: [],
  linksTotal: 0,
  ...extra,
});

function withLayout() {
  // happy-dom has no layout: give the list a viewport so the virtualizer renders rows.
  vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(600);
  vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(1100);
}

function renderApp(lang: "en" | "ru" = "en") {
  return render(
    <I18nProvider initial={lang}>
      <App />
    </I18nProvider>,
  );
}

const spaces = (s: string | null | undefined) => (s ?? "").replace(/[\u00a0\u202f]/g, " ");

afterEach(() => {
  vi.restoreAllMocks();
  cleanup();
  clearMocks();
  window.localStorage.clear();
});

describe("record list", () => {
  it("sorts by a column header: a button, aria-sort and the direction shown; the shell is asked to sort", async () => {
    withLayout();
    const requests: Array<Record<string, unknown>> = [];
    mockIPC(
      portal({
        records_list: (_c, payload) => {
          requests.push((payload as { request: Record<string, unknown> }).request);
          return { rows: [row("deal", 1, "Alpha"), row("deal", 2, "Beta")], total: 2, nextCursor: null };
        },
      }),
      { shouldMockEvents: true },
    );
    renderApp();
    fireEvent.click(await screen.findByTestId("count-deal"));
    await screen.findByText("Alpha");
    const title = screen.getByTestId("th-title");
    const updated = screen.getByTestId("th-updated");
    // Before any choice the list is in its default order, and the header says so.
    expect(updated.getAttribute("aria-sort")).toBe("descending");
    expect(title.getAttribute("aria-sort")).toBe("none");
    expect(requests[0]).toMatchObject({ sort: { field: "updatedTime", descending: true } });

    fireEvent.click(title.querySelector("button") as HTMLButtonElement);
    await waitFor(() => expect(screen.getByTestId("th-title").getAttribute("aria-sort")).toBe("ascending"));
    expect(screen.getByTestId("th-title").textContent).toContain("▲");
    expect(screen.getByTestId("th-updated").getAttribute("aria-sort")).toBe("none");
    await waitFor(() => expect(requests.at(-1)).toMatchObject({ sort: { field: "title", descending: false } }));

    fireEvent.click(screen.getByTestId("th-title").querySelector("button") as HTMLButtonElement);
    await waitFor(() => expect(screen.getByTestId("th-title").getAttribute("aria-sort")).toBe("descending"));
    await waitFor(() => expect(requests.at(-1)).toMatchObject({ sort: { field: "title", descending: true } }));

    // The amount has its index now (records_by_amount): largest first on the first click.
    fireEvent.click(screen.getByTestId("th-amount").querySelector("button") as HTMLButtonElement);
    await waitFor(() => expect(screen.getByTestId("th-amount").getAttribute("aria-sort")).toBe("descending"));
    expect(screen.getByTestId("th-amount").textContent).toContain("▼");
    expect(screen.getByTestId("th-title").getAttribute("aria-sort")).toBe("none");
    await waitFor(() => expect(requests.at(-1)).toMatchObject({ sort: { field: "amount", descending: true } }));
    fireEvent.click(screen.getByTestId("th-amount").querySelector("button") as HTMLButtonElement);
    await waitFor(() => expect(screen.getByTestId("th-amount").getAttribute("aria-sort")).toBe("ascending"));
    await waitFor(() => expect(requests.at(-1)).toMatchObject({ sort: { field: "amount", descending: false } }));
    // Money in full in a tooltip.
    const money = screen.getAllByTitle((t) => spaces(t) === "RUB 1,350,000.50")[0];
    expect(money).toBeTruthy();
  });

  it("keeps the first page's total when a later page is not counted again", async () => {
    withLayout();
    const cursors: Array<unknown> = [];
    mockIPC(
      portal({
        records_list: (_c, payload) => {
          const { cursor } = (payload as { request: { cursor: string | null } }).request;
          cursors.push(cursor);
          if (cursor === null) {
            const rows = [1, 2, 3, 4, 5].map((i) => row("deal", i, `Deal ${i}`));
            return { rows, total: 120, nextCursor: "page2" };
          }
          // A later page of a filtered list: the shell does not count again.
          const rows = [6, 7, 8, 9, 10].map((i) => row("deal", i, `Deal ${i}`));
          return { rows, total: null, nextCursor: null };
        },
      }),
      { shouldMockEvents: true },
    );
    renderApp();
    fireEvent.click(await screen.findByTestId("count-deal"));
    await screen.findByText("Deal 1");
    await screen.findByText("Deal 10");
    expect(cursors).toEqual([null, "page2"]);
    expect(spaces(screen.getByText(/^Found:/).textContent)).toBe("Found: 120");
  });

  it("shows the stage and responsible filters once the first sync brings their data", async () => {
    withLayout();
    let synced = false;
    mockIPC(
      portal({
        references_list: () =>
          synced
            ? {
                stages: [{ listId: "DEAL_STAGE", statusId: "NEW", name: "New", sort: 10, semantics: "process", color: null, categoryId: 0 }],
                categories: [],
                users: [{ id: 1, name: "Ivan", lastName: "Petrov", active: true, kind: "person" }],
              }
            : { stages: [], categories: [], users: [] },
        records_list: () => ({ rows: [], total: 0, nextCursor: null }),
      }),
      { shouldMockEvents: true },
    );
    renderApp();
    fireEvent.click(await screen.findByTestId("count-deal"));
    await screen.findByText("Nothing found");
    expect(screen.queryByText("Stage")).toBeNull();
    synced = true;
    await act(async () => {
      await emit(EVENT_NAME, { type: "syncFinished", at: "2026-11-27T10:00:00Z" });
    });
    expect(await screen.findByRole("combobox", { name: "Stage" })).toBeTruthy();
    expect(screen.getByRole("combobox", { name: "Responsible" })).toBeTruthy();
  });

  it("says the records are still coming while the first sync runs, not that nothing was found", async () => {
    withLayout();
    mockIPC(
      portal({
        sync_status: () => ({ running: true, progress: null, lastSyncAt: null, lastError: null }),
        records_list: () => ({ rows: [], total: 0, nextCursor: null }),
      }),
      { shouldMockEvents: true },
    );
    renderApp();
    fireEvent.click(await screen.findByTestId("count-deal"));
    expect(await screen.findByText("Lists appear after the first sync.")).toBeTruthy();
    expect(screen.queryByText("Nothing found")).toBeNull();
  });

  it("names the contacts list's first column by the person's name", async () => {
    withLayout();
    mockIPC(portal({ records_list: () => ({ rows: [row("contact", 1, "Anna")], total: 1, nextCursor: null }) }), {
      shouldMockEvents: true,
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("count-contact"));
    await screen.findByText("Anna");
    expect(screen.getByTestId("th-title").textContent).toContain("Name");
  });

  it("Escape in the search clears only the search; Escape then closes the card and returns to its row", async () => {
    withLayout();
    mockIPC(
      portal({
        records_list: () => ({ rows: [row("deal", 1, "Alpha"), row("deal", 2, "Beta")], total: 2, nextCursor: null }),
        record_get: () => card(1),
      }),
      { shouldMockEvents: true },
    );
    renderApp();
    fireEvent.click(await screen.findByTestId("count-deal"));
    await screen.findByText("Alpha");
    fireEvent.keyDown(screen.getByTestId("vtable-body"), { key: "Enter" });
    await screen.findByTestId("card-title");
    const search = screen.getByRole("searchbox");
    fireEvent.change(search, { target: { value: "alp" } });
    search.focus();
    fireEvent.keyDown(search, { key: "Escape" });
    expect((search as HTMLInputElement).value).toBe("");
    expect(screen.getByTestId("card-title")).toBeTruthy();

    const raf = vi.spyOn(window, "requestAnimationFrame").mockImplementation((cb) => {
      cb(0);
      return 0;
    });
    fireEvent.keyDown(screen.getByTestId("record-card"), { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("card-title")).toBeNull());
    expect(raf).toHaveBeenCalled();
    expect(document.activeElement).toBe(screen.getByTestId("vtable-body"));
    expect(screen.getByTestId("vtable-body").querySelector('[aria-selected="true"]')?.textContent).toContain("Alpha");
  });
});

describe("record card", () => {
  it("shows money as lists do, list items by label, BBCode as formatting, long values folded", async () => {
    const long = "Очень длинный комментарий. ".repeat(600);
    mockIPC(
      portal({
        record_get: () =>
          card(3, {
            fields: [
              { name: "opportunity", label: "Amount", fieldType: "double", isCustom: false, values: ["1350000.5"] },
              { name: "currencyId", label: "Currency", fieldType: { other: "crm_currency" }, isCustom: false, values: ["RUB"] },
              { name: "comments", label: "Comment", fieldType: "text", isCustom: false, values: ["[B]Важно[/B]: позвонить [URL=https://evil.example]сюда[/URL]"] },
              { name: "UF_CRM_LONG", label: "Long", fieldType: "string", isCustom: true, values: [long] },
            ],
            multiFields: [{ id: 9, kind: "WEB", valueType: "WORK", value: "example.com" }],
          }),
      }),
    );
    const { container } = render(
      <I18nProvider initial="en">
        <RecordCard recordKey={{ entityType: "deal", id: 3 }} revision={0} onOpen={() => {}} onClose={() => {}} />
      </I18nProvider>,
    );
    const amount = await screen.findByTestId("field-opportunity");
    expect(spaces(amount.querySelector("dd")?.textContent)).toBe("RUB 1,350,000.50");
    expect(screen.queryByTestId("field-currencyId")).toBeNull();

    const comment = screen.getByTestId("field-comments").querySelector("dd") as HTMLElement;
    expect(comment.textContent).toBe("Важно: позвонить сюда");
    expect(comment.querySelector("strong")?.textContent).toBe("Важно");
    expect(container.querySelector("a[href^='https']")).toBeNull();

    const folded = screen.getByTestId("field-UF_CRM_LONG").querySelector(".value-text") as HTMLElement;
    expect(folded.textContent?.length).toBeLessThan(700);
    fireEvent.click(screen.getByText(/Show all/));
    expect(folded.textContent?.length).toBe(long.length);

    // A website is a website, not "work".
    expect(screen.getByTestId("mf-web").textContent).toContain("website");
  });

  it("folds the empty fields again when another card opens", async () => {
    mockIPC(portal({ record_get: (_c, p) => card((p as { request: { key: { id: number } } }).request.key.id) }));
    const { rerender } = render(
      <I18nProvider initial="en">
        <RecordCard recordKey={{ entityType: "deal", id: 1 }} revision={0} onOpen={() => {}} onClose={() => {}} />
      </I18nProvider>,
    );
    fireEvent.click(await screen.findByText("Show empty fields (1)"));
    expect(screen.getByText("Quote")).toBeTruthy();
    rerender(
      <I18nProvider initial="en">
        <RecordCard recordKey={{ entityType: "deal", id: 2 }} revision={0} onOpen={() => {}} onClose={() => {}} />
      </I18nProvider>,
    );
    await screen.findByText("Deal 2", { selector: "h2" });
    expect(screen.queryByText("Quote")).toBeNull();
  });
});

describe("connect screen", () => {
  const notConfigured = () => ({ ...demoStatus, mode: "notConfigured", portalName: "" });

  it("answers in words when Enter is pressed on text that is not a webhook, or on nothing", async () => {
    const asked: string[] = [];
    mockIPC(portal({ portal_status: notConfigured, portal_connect: () => asked.push("connect") }), { shouldMockEvents: true });
    renderApp();
    const input = await screen.findByLabelText("Webhook URL");
    fireEvent.submit(input.closest("form") as HTMLFormElement);
    expect((await screen.findByRole("alert")).textContent).toContain("Paste the webhook URL");
    fireEvent.change(input, { target: { value: "hello world" } });
    fireEvent.submit(input.closest("form") as HTMLFormElement);
    expect((await screen.findByRole("alert")).textContent).toContain("not a webhook URL");
    fireEvent.change(input, { target: { value: "acme.bitrix24.ru/rest/1/abc/" } });
    fireEvent.submit(input.closest("form") as HTMLFormElement);
    expect((await screen.findByRole("alert")).textContent).toMatch(/https:\/\//);
    expect(asked).toEqual([]);
  });

  it("shows progress with a way to stop waiting, and says truthfully that an unreachable portal did not answer", async () => {
    let reject: ((e: unknown) => void) | undefined;
    mockIPC(
      portal({
        portal_status: notConfigured,
        portal_connect: () =>
          new Promise((_, r) => {
            reject = r;
          }),
      }),
      { shouldMockEvents: true },
    );
    renderApp();
    const input = await screen.findByLabelText("Webhook URL");
    fireEvent.change(input, { target: { value: "https://acme.bitrix24.ru/rest/1/abc/" } });
    fireEvent.submit(input.closest("form") as HTMLFormElement);
    const progress = await screen.findByTestId("connect-progress");
    expect(progress.textContent).toContain("acme.bitrix24.ru");
    fireEvent.click(screen.getByText("Stop waiting"));
    expect(screen.queryByTestId("connect-progress")).toBeNull();
    expect(screen.getByRole("status").textContent).toContain("No longer waiting");

    fireEvent.submit(input.closest("form") as HTMLFormElement);
    await screen.findByTestId("connect-progress");
    await act(async () => reject?.({ code: "offline", message: "timed out" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("acme.bitrix24.ru did not answer");
    expect(alert.textContent).not.toContain("try again");
  });

  it("marks the connect page in the sidebar", async () => {
    mockIPC(portal(), { shouldMockEvents: true });
    renderApp();
    const nav = await screen.findByTestId("nav-connect");
    fireEvent.click(nav);
    await waitFor(() => expect(screen.getByTestId("nav-connect").getAttribute("aria-current")).toBe("page"));
  });
});

describe("language", () => {
  it("sets <html lang> from the start and follows a switch", async () => {
    mockIPC(portal(), { shouldMockEvents: true });
    document.documentElement.lang = "";
    renderApp("en");
    await waitFor(() => expect(document.documentElement.lang).toBe("en"));
    fireEvent.change(await screen.findByRole("combobox", { name: "Language" }), { target: { value: "ru" } });
    await waitFor(() => expect(document.documentElement.lang).toBe("ru"));
  });
});

describe("pieces", () => {
  it("lets only tel: and mailto: links through; every other link click is stopped", () => {
    expect(linkMayNavigate("tel:+79032180888")).toBe(true);
    expect(linkMayNavigate("mailto:a@b.c")).toBe(true);
    expect(linkMayNavigate("https://example.com")).toBe(false);
    expect(linkMayNavigate("about:blank")).toBe(false);
    const stop = guardLinks(document);
    const a = document.createElement("a");
    a.href = "https://example.com/";
    a.textContent = "site";
    document.body.appendChild(a);
    const click = new MouseEvent("click", { bubbles: true, cancelable: true });
    a.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(true);
    stop();
    a.remove();
  });

  it("renders BBCode as formatting and never as markup", () => {
    const { container } = render(<p>{renderBbcode("[b]bold [i]both[/i][/B] [u]u[/u] [s]s[/s] [COLOR=#f00]red[/COLOR] [x]kept[/x] <b>raw</b>")}</p>);
    expect(container.querySelector("strong")?.textContent).toBe("bold both");
    expect(container.querySelector("strong em")?.textContent).toBe("both");
    expect(container.querySelector("u")?.textContent).toBe("u");
    expect(container.querySelector("s")?.textContent).toBe("s");
    expect(container.textContent).toBe("bold both u s red [x]kept[/x] <b>raw</b>");
    expect(container.querySelector("b")).toBeNull();
    expect(stripBbcode("[B]a[/B][br]b")).toBe("a\nb");
  });

  it("keeps as many columns as fit, most important first, never fewer than one", () => {
    expect(columnsThatFit([180, 130, 130, 140], 1000)).toBe(4);
    expect(columnsThatFit([180, 130, 130, 140], 520)).toBe(3);
    expect(columnsThatFit([180, 130, 130, 140], 100)).toBe(1);
  });

  it("takes an amount's currency from the currency field", () => {
    const meta = { raw: null, isRequired: false, isReadOnly: false, isImmutable: false, isMultiple: false, options: [], statusType: null };
    const fields = withMoney([
      { name: "opportunity", label: "A", fieldType: "double", isCustom: false, values: ["10"], ...meta },
      { name: "currencyId", label: "C", fieldType: "string", isCustom: false, values: ["USD"], ...meta },
    ]);
    expect(fields).toEqual([{ name: "opportunity", label: "A", fieldType: "money", isCustom: false, values: ["10 USD"], ...meta }]);
  });
});
