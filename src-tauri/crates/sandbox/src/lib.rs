//! Kartoteka's Bitrix24-compatible server (the "sandbox"): the REST slice of
//! `shared/bitrix24/CONTRACT.md` over webhooks, with the test-control API `/_emu/*`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kartoteka_sandbox::SandboxError> {
//! use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions};
//! let sb = Sandbox::start(SandboxOptions {
//!     clock: ClockMode::Frozen,
//!     limits: LimitsPreset::Off,
//!     records: Some(1000),
//!     ..Default::default()
//! })
//! .await?;
//! let url = sb.admin_webhook_url(); // http://127.0.0.1:PORT/rest/1/<code>/
//! # let _ = url; sb.shutdown().await; Ok(()) }
//! ```
//!
//! # Demo users (every dataset, any seed)
//!
//! | id | who | role |
//! |---|---|---|
//! | 1 | Алексей Смирнов | administrator (sees everything) |
//! | 2, 3, 4, 5 | Ирина Волкова, Дмитрий Козлов, Ольга Морозова, Сергей Новиков | managers, rights `all` |
//! | 6 | Павел Соколов | restricted manager: read/write/delete `own` on every type |
//! | 7 | Анна Лебедева | inactive (no webhook; `user.get` with `ACTIVE`) |
//! | 8 | Михаил Егоров | extranet user (`USER_TYPE` = `extranet`) |
//! | 9 | Интеграция 1С | robot / integration user: has a webhook, authors some changes, never returned by `user.get` |
//!
//! Every active user (1–6, 8, 9) has a webhook whose code derives from the seed:
//! [`Sandbox::webhook_url`]. Records are assigned to users 1–6.
//!
//! Departments (`department.get`, `UF_DEPARTMENT`): 1 «Картотека» headed by user 1 (users 1, 7, 9),
//! and its child 2 «Отдел продаж» headed by user 2 (users 2–6); user 8 (extranet) has none.
//! Supervisors = administrators (`user.admin`) or department heads (`UF_HEAD`).
//!
//! # Control API (`/_emu/*`, JSON in and out; CONTRACT §9.2)
//!
//! | endpoint | body / notes |
//! |---|---|
//! | `POST /_emu/reset` | `{"seed":42,"dataset":"demo"\|"empty","records"?:N}`; `empty` keeps users, webhooks, lists, UFs and pipeline 0. Faults, limits and tokens are cleared; config and the request log stay |
//! | `POST /_emu/seed` | `{users, credentials, userfields, statuses, categories, items, links, timeline}`; items are `{"entityTypeId":2,"fields":{…},"id"?}` (crm.item names, original UF names; `createdTime`/`updatedTime`/`createdBy`/`updatedBy` may be set); links `{"dealId","contactId","isPrimary"?,"sort"?}`; timeline `{"kind":"logmessage"\|"comment","entityTypeId","entityId","title","text","iconCode","comment","authorId","created"}`. Answers `{"ids":{…}}` |
//! | `POST /_emu/credentials` | webhook `{"kind":"webhook","userId","code","scopes"?,"expiresAt"?,"revoked"?}` (scopes default to the README's `crm`, `user_brief`, `department`, as the demo webhooks have) (an existing code is updated: expire or revoke it) answers `{"url": "http://127.0.0.1:PORT/rest/{userId}/{code}/", "userId"}`; OAuth `{"kind":"oauth","clientId","clientSecret","userId","scopes"}` answers the first token pair (F9 shape); refresh via `GET /oauth/token/?grant_type=refresh_token&…` |
//! | `POST /_emu/permissions` | `{"userId","entityTypeId"?,"read"?,"write"?,"delete"?}` with `none\|own\|open\|all`; no `entityTypeId` = all four types |
//! | `POST /_emu/act` | `{"userId","method","params","countLimits"?,"log"?}`; answers the REST envelope (or error body and status). `"method":"recyclebin.restore"`, `params {"entityTypeId","id"}` restores an item from the recycle bin as the web UI does (not reachable through `/rest/`). `countLimits` takes from the bucket `/rest/` would use: the caller's IP, or `act:{userId}` when `rateLimit.key` is `"credential"` |
//! | `GET/POST /_emu/clock` | `{"set":ISO}` / `{"advanceSeconds":N}` / `{"mode":"frozen"\|"running"}` |
//! | `GET/POST /_emu/config` | `portalOffset` (`"+03:00"`), `portalZone` (an IANA zone name with its summer time, or `null`), `plan`, `rateLimit`, `operatingLimit` (`enabled`, `limitSeconds` default 420, `costPerCallSeconds`, `sharedBatchBudget` default `true`), `accessTokenTtlSeconds`, `unorderedListsWhenNoOrder`, `zeroTimings`, `badAuthCode` (default `INVALID_CREDENTIALS`; `NO_AUTH_FOUND` for the old answer), `badAuthStatus`, `insufficientScopeStatus`, `stagehistoryUnsupportedCode`, `methodNotFoundStatus`, `logmessageAdd` (`"edit"` default \| `"admin"`), `recycleBin` (default `true`), `callSeconds` (simulated seconds per call: a number, or `{"crm.item.list": 2, "*": 0.2}`; default none = measured), `requestCutoffSeconds` (default 60; `null` never cuts), `userTimeZones` (`{"1": "Europe/Berlin"}`), `useTimeZones` (default `true`), and the lenient switches of the rules table below (all off by default) |
//! | `POST/DELETE /_emu/faults` | `[{"match":{"method"?,"command"?,"credential"?,"nth"?,"times"?,"repeat"?,"probability"?},"action":{"type":…}}]`; types `error`, `html`, `delay` (`ms`), `drop`, `truncate`, `commitThenFail`, `redirect`, `overload`, `expiredToken`, `revokedToken`. A fault fires once by default on the `nth` matching call; a method-only fault also matches that method inside a batch (as a command error) |
//! | `GET/DELETE /_emu/requests` | `?since=seq`; `{"requests":[{seq,time,credential,user,httpMethod,path,method,params,status,error,bucket,commands}],"last":seq}`; codes and tokens are redacted |
//! | `GET /_emu/state` | `?entityTypeId=2&id=5` → `{"exists","deleted","item","contacts"}`; without `id`: counts and ids; without anything: counts of every type |
//!
//! # Choices where the contract leaves room
//! - A boolean UF is filtered with `1`/`0` (CONTRACT §2.3); `Y`/`N` in such a filter are
//!   accepted but match nothing, as on a portal that compares them with the stored `1`/`0`.
//! - With `zeroTimings`, `time.operating` is charged `costPerCallSeconds` (or 0) per call instead
//!   of the measured time, so frozen-clock runs are byte-identical (§9.1).
//! - The operating limit refuses a call once the method's total **exceeds** `limitSeconds` (§5.4).
//!
//! # Portal rules and what each rests on (issue 7)
//! "Server code" = CONTRACT §11 (read in the crm module's PHP, checked by issue 7); "issue" = issue 7
//! where it goes beyond §11 (it wins over CONTRACT.md); "choice" = ours where neither says.
//!
//! | rule | basis |
//! |---|---|
//! | `crm.item.*` keys of `select`/`filter`/`order`/`fields` in camelCase or UPPER_SNAKE (`ID`, `STAGE_ID`), also in `batch`; answers camelCase | server code §11 #1 |
//! | `fm`: elements without `typeId` or `value` ignored; array = add all (ids ignored); object keyed by id changes, `value:""` deletes, `n…`/vanished ids add; a string is ignored; unknown `typeId`/`valueType` stored as given | server code §11 #2–3 |
//! | booleans: only `true`, `"true"`, `"y"`, `"Y"` are yes, else no, never 400 — user fields too (see below) | `crm/lib/controller/item.php` `prepareBooleanFieldValue` |
//! | an unparseable date/datetime is silently not set | server code §11 #4 |
//! | update answers the whole saved item; a no-op update keeps `updatedTime` | server code §11 #5 |
//! | write refused by the operation: `CRM_ITEM_ADD/UPDATE/DELETE_ACCESS_DENIED` (e.g. reassigning outside one's rights); no read/edit right on the item at all stays `ACCESS_DENIED` | server code §11 #6; split between the two codes: choice |
//! | a stage of another pipeline is a forbidden move: 400 with an empty code (an unknown stage stays `CRM_FIELD_ERROR_VALUE_NOT_VALID`) | server code §11 #6; which moves are forbidden: choice |
//! | `logmessage.add` needs edit permission on the item (`canUpdate`: an administrator, or the role's level; an item that does not exist passes only the level "all"; `entityId` ≤ 0 or another type → `ACCESS_DENIED`); `logmessageAdd: "admin"` = administrators only, as older portals; a missing field → empty code; empty strings accepted | `crm/lib/controller/timeline/logmessage.php` `addAction`, `crm/lib/Service/UserPermissions/EntityPermissions/Item.php` (switch: older portals, whose controller checked administrator rights) |
//! | `logmessage.delete` through a webhook → `REMOVING_DISABLED` | server code §11 #8 |
//! | `logmessage.list` needs read permission on the item, `get` on the item it is bound to (`ACCESS_DENIED`); 10 a page newest first, paged by the action's **`offset`** argument; the REST `start` moves no row, it only feeds `next` (= `start` rounded down to 50 + the rows) and `total`; the result is `{"logMessages": […]}`; `order` only lowercase `id`/`created` + `asc`/`desc`, else id desc | `crm/lib/controller/timeline/logmessage.php` `listAction`, `getAction`; `rest/lib/engine/restmanager.php` `getNavigationData`, `processData` |
//! | `comment.list`: `filter.ENTITY_ID` + `filter.ENTITY_TYPE` name the item; without them or without read permission "Access denied." with no code; 50 a page by the REST `start`; `order` only by `ID`/`CREATED`/`AUTHOR_ID`, exactly `DESC` descends, else ascending | `crm/classes/general/restservice.php` `CCrmTimelineCommentRestProxy::innerGetList`, `rest/classes/general/rest.php` `getNavData`/`setNavData` |
//! | `comment.add` is by the caller (`AUTHOR_ID` in the fields is ignored) and takes `ENTITY_TYPE_ID`; `update` by the author; `delete` by the author or an administrator | `crm/lib/controller/timeline/comment.php` (`fetchFieldsToAdd`, `isCurrentUserAuthor`) |
//! | company `contactIds` ↔ contact `companyIds` are one set; `crm.contact.company.*`, `crm.company.contact.*`, `crm.lead.contact.*` | server code §11 #11 (the other side's `updatedTime` does not move: choice, one binding table) |
//! | `crm.stagehistory.list` orders by the fields given | server code §11 #12 |
//! | recycle bin on by default; deleted → `NOT_FOUND`; restore (only `/_emu/act`) keeps the old `updatedTime`/`updatedBy` | server code §11 #13; switch and restore: issue |
//! | `originatorId`/`originId` on all four types, not unique; `categoryId` on contacts/companies; `hasPhone`/`hasEmail` | server code §11 #14 |
//! | wrong webhook code → 401 `INVALID_CREDENTIALS` "Invalid request credentials"; `profile.TIME_ZONE` a zone name or `""`; `XML_ID` a string; the missing methods of issue 7 §9; an unresolved batch reference in any list filter → `INVALID_ARG_VALUE` | issue §9 (live portals) |
//! | `user.admin`, `department.get` with `UF_HEAD` | issue §9 / the History feature's supervisors |
//! | operating limit: per method and budget, the seconds of calls longer than 0.1 s summed over ten one-minute baskets; blocked once the sum exceeds 420 s: 429 `OPERATION_TIME_LIMIT`; `batch` itself is not counted, a blocked command is that command's `result_error` and the batch goes on (200) | server code `rest/lib/engine/access/loadlimiter.php` (`LoadLimiter`), `rest/classes/general/rest_provider.php` (`CRestProvider::methodsBatch`) |
//! | budgets: a direct webhook call counts in its webhook's, an OAuth call in its application's; a webhook's batch command gets only `setApplicationId($server->getClientId())` (null), so batch commands of all webhooks share ONE budget per method of the portal, apart from direct calls (`operatingLimit.sharedBatchBudget: false` = per webhook, lenient) | server code `CRestProvider::methodsBatch` with `LoadLimiter`'s key (auth type, entity, method) |
//! | a request whose processing reaches `requestCutoffSeconds` (60) is ended by the front with a 504 HTML page; commands that started before the cut are applied, later ones do not run (`callSeconds` makes a portal slow without sleeping) | the cloud's front (not in the module's code); what runs after the cut: choice |
//!
//! # Rules read in the server code, version 26.250 (modules crm, rest, main)
//! Each is on by default; a lenient variant, where one exists, is a `/_emu/config` switch.
//!
//! | rule | server code | lenient switch |
//! |---|---|---|
//! | `crm.item.list` with `useOriginalUfNames=Y` and a `select` without `*`: the select is upper-cased while system keys stay camelCase, so only `UF_*` keys survive (`select:["id"]` gives `[]` per item) | `crm/lib/controller/item.php` `getJsonForItems` | `narrowSelectKeepsSystemKeys` |
//! | yes/no fields, custom ones included: only `true`, `"true"`, `"y"`, `"Y"` are yes; `1`/`"1"` (a JSON `true` inside `batch`) is no | `crm/lib/controller/item.php` `prepareBooleanFieldValue` | `ufBooleanOneIsYes` |
//! | a field written as `""` is cleared; `0`/`"0"` are values | `item.php` `processFields`, `crm/lib/field.php` `Field::isValueEmpty` | — |
//! | a date-only value goes out as 00:00 UTC of the date shown in the portal's zone, with the offset in force *now* added (an hour off with summer time) | `rest/classes/general/rest_util.php` `CRestUtil::ConvertDate` (`date('c', MakeTimeStamp($d) + date("Z"))`) | — |
//! | a written date is read on the portal's clock, an explicit offset honoured (`…T00:00:00+03:00` is the day before west of Moscow) | `CRestUtil::unConvertDate` | — |
//! | the portal's zone: a fixed `portalOffset`, or `portalZone` (an IANA name: summer time) | PHP's default time zone | — |
//! | a caller with a personal time zone (`userTimeZones`, shown as `TIME_ZONE`) reads each datetime shifted by `[U(t) − P(t)] − [U(now) − P(now)]` (an hour across summer time when the two zones' rules differ); written datetimes keep their instant | `CRestUtil::ConvertDateTime` (`MakeTimeStamp($dt) - CTimeZone::GetOffset()`), `Bitrix\Main\Type\DateTime::toString` → `toUserTime`; `CRestUtil::unConvertDateTime` | `useTimeZones: false` (`CTimeZone::Enabled` off) |
//! | the primary contact of a deal or lead, the primary company of a contact: `crm.item.add/update` can name none — the current primary stays while bound, else the first binding; a bound single id (`contactId`) is no change | `crm/lib/item/fieldimplementation/binding.php` `Binding::set`, `selectPrimaryBoundEntity` | `contactIdsOrderChoosesPrimary` (26.250's `EntityBinding::normalizeEntityBindings` marks the first id primary) |
//! | `*.contact.items.set`, `crm.contact.company.items.set` replace every binding; the first item with `IS_PRIMARY` exactly `"Y"` is primary, else the first; the list keeps SORT order; `items.get` marks the primary | `crm/classes/general/restservice.php` `CCrmEntityBindingProxy`, `EntityBinding::normalizeEntityBindings` | — |
//! | scopes: a method of a scope the webhook lacks answers `insufficient_scope` (`department.get` needs `department`, `user.get` one of `user`, `user_brief`, `user_basic`); `scope` lists the credential's scopes, `scope?full=1` all of them | `rest/lib/apauth/auth.php` `checkPermission`, `RestManager::fillAlternativeScope`, `rest/classes/general/rest_provider.php` `scopeList` | — |
//!
//! Tried with an existing client library as a new user would (issue 7 "done when"):
//! `fast_bitrix24` 1.8.14 from PyPI, unchanged, against `kartoteka-cli sandbox --frozen-clock`
//! with standard limits: `get_all` over `crm.item.list` (also with `ID`/`TITLE` select and `>ID`
//! filter), `crm.deal.list`, `crm.contact.list`, `crm.status.list`, `user.get`, `department.get`;
//! `get_by_ID`, batched `call` of `crm.item.get/add/update` (an `fm` array, an UPPER_SNAKE field),
//! legacy `crm.deal.update`, `list_and_get`: 14 of 14 worked. `b24pysdk` 1.3.2 builds
//! `https://{domain}/rest` itself, so it cannot reach the plain-HTTP loopback sandbox without a TLS
//! front; not tried further.
//!
//! # Storage and speed
//! Items live in memory (per type: an id-ordered map and an `(updatedTime, id)` index, each item
//! with its rendered JSON cached), so key-set pages (`>id` + `order id`, or the incremental
//! `updatedTime, id` order) are range scans that stop after 50 rows; other orders and filters scan.
//! With `db_path`, a file that already holds a portal is loaded instead of generating one
//! (`records`/`seed` are then ignored), and every change is written through by a background thread.
//! Generating 1M records takes ~30 s of CPU in a release build (debug builds are ~10× slower).
//!
//! # Clock
//! [`ClockMode::Frozen`] starts at 2026-03-02T09:00:00+03:00 and only moves through
//! `POST /_emu/clock`; [`ClockMode::Real`] starts at the wall-clock time and runs. Demo data lies in
//! the two years before the clock's start, so with a frozen clock the same seed gives
//! byte-identical data.

mod api;
mod batch;
mod clock;
mod company_links;
mod config;
pub mod control;
mod demo;
mod demo_parts;
mod emu;
mod engine;
mod faults;
mod fieldvalues;
mod filter;
mod http;
mod items;
mod legacy;
mod limits;
mod links;
mod lists;
mod names;
mod oauth;
mod persist;
mod php;
mod recycle;
mod reference;
mod reference_edit;
mod reqlog;
mod schema;
mod seed;
mod state;
mod timeline;
mod users;
mod values;
mod write;

pub use reference::{ADMIN, BOT, EXTRANET, INACTIVE, MANAGERS, RESTRICTED};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Rate and operating limits preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitsPreset {
    /// No rate limit, no operating limit.
    Off,
    /// 50 burst / 2 per second, operating limit 420 s per method.
    #[default]
    Standard,
    /// 250 burst / 5 per second, operating limit 420 s per method.
    Enterprise,
}

/// The virtual clock's mode at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// Runs at real speed from the wall-clock time at start.
    #[default]
    Real,
    /// Frozen at the dataset epoch (2026-03-02T09:00:00+03:00).
    Frozen,
}

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Default `127.0.0.1:0` (a free loopback port).
    pub listen: SocketAddr,
    /// Default 42.
    pub seed: u64,
    /// `None`: the standard demo dataset (~425 records); `Some(n)`: n records in demo proportions.
    pub records: Option<usize>,
    pub limits: LimitsPreset,
    /// SQLite file for persistence; `None` keeps everything in memory.
    pub db_path: Option<PathBuf>,
    pub clock: ClockMode,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 42,
            records: None,
            limits: LimitsPreset::Standard,
            db_path: None,
            clock: ClockMode::Real,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("storage error: {0}")]
    Storage(String),
    #[error("startup task failed: {0}")]
    Task(String),
}

/// A running sandbox server. Dropping it (or [`Sandbox::shutdown`]) stops it.
pub struct Sandbox {
    addr: SocketAddr,
    shared: http::Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: opts.listen,
            source,
        })?;
        let o = opts.clone();
        let engine = tokio::task::spawn_blocking(move || build_engine(&o))
            .await
            .map_err(|e| SandboxError::Task(e.to_string()))??;
        let mut engine = engine;
        engine.oauth.base_url = format!("http://{addr}");
        let shared: http::Shared = Arc::new(Mutex::new(engine));
        let app = axum::Router::new()
            .fallback(http::handle)
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "sandbox server stopped with an error");
            }
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The demo administrator's webhook: `http://127.0.0.1:PORT/rest/1/<code>/`.
    pub fn admin_webhook_url(&self) -> String {
        self.webhook_url(ADMIN).unwrap_or_default()
    }

    /// A demo user's webhook URL, if that user has one.
    pub fn webhook_url(&self, user_id: i64) -> Option<String> {
        let engine = match self.shared.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        let code = demo::webhook_code(engine.seed, user_id);
        let cred = engine.portal.credentials.get(&code)?;
        (cred.user_id == user_id && cred.kind == "webhook")
            .then(|| format!("{}/rest/{user_id}/{code}/", self.base_url()))
    }

    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let engine = match self.shared.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        if let Some(p) = &engine.persist {
            p.flush();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn build_engine(opts: &SandboxOptions) -> Result<engine::Engine, SandboxError> {
    let running = opts.clock == ClockMode::Real;
    let cfg = config::Config::new(opts.limits);
    let mut engine = engine::Engine {
        portal: state::Portal::default(),
        cfg,
        clock: clock::Clock::new(clock::FROZEN_EPOCH_MS, running),
        seed: opts.seed,
        records: opts.records,
        limits: Default::default(),
        faults: faults::Faults::new(opts.seed),
        log: Default::default(),
        persist: None,
        oauth: Default::default(),
    };
    let loaded = match &opts.db_path {
        Some(path) => persist::Persist::open(path, &mut engine)?,
        None => false,
    };
    if !loaded {
        emu::reset(&mut engine, opts.seed, true, opts.records);
    }
    Ok(engine)
}
