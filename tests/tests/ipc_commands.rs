//! The IPC command list is written in five places that Tauri does not check against each other:
//! the `#[tauri::command]` functions, the shell's `generate_handler!`, the permissions `build.rs`
//! generates, the capability file that grants them, and the UI's typed command map. A command
//! missing from one of them fails only at run time ("not allowed by ACL", "command not found");
//! this test fails at once, naming the place that differs.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text between `start` and the first `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str, what: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{what}: `{start}` not found"))
        + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{what}: no `{end}` after `{start}`"));
    &text[from..from + len]
}

fn names(list: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    list.into_iter().filter(|n| !n.is_empty()).collect()
}

/// `#[tauri::command] pub async fn name(` in every file of `src-tauri/src/commands/`.
fn command_functions() -> BTreeSet<String> {
    let dir = root().join("src-tauri/src/commands");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("commands dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        for piece in text.split("#[tauri::command]").skip(1) {
            let name = between(piece, "fn ", "(", "#[tauri::command]");
            out.insert(name.trim().to_string());
        }
    }
    out
}

fn handler() -> BTreeSet<String> {
    let text = read("src-tauri/src/commands/mod.rs");
    let list = between(&text, "generate_handler![", "]", "commands/mod.rs");
    names(
        list.split(',')
            .map(|p| p.trim().rsplit("::").next().unwrap_or_default().to_string()),
    )
}

fn build_rs() -> BTreeSet<String> {
    let text = read("src-tauri/build.rs");
    let list = between(&text, "const COMMANDS: &[&str] = &[", "];", "build.rs");
    names(
        list.split(',')
            .map(|p| p.trim().trim_matches('"').to_string()),
    )
}

fn capability() -> BTreeSet<String> {
    let json: Value = serde_json::from_str(&read("src-tauri/capabilities/main.json"))
        .expect("capability file is JSON");
    names(
        json["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|p| p.strip_prefix("allow-"))
            .map(|p| p.replace('-', "_")),
    )
}

fn ui_command_map() -> BTreeSet<String> {
    let text = read("ui/src/lib/ipc/commands.ts");
    let body = between(&text, "export interface Commands {", "}", "commands.ts");
    names(body.lines().filter_map(|line| {
        let line = line.trim();
        line.split_once(':')
            .filter(|_| !line.starts_with("//") && !line.starts_with('*'))
            .map(|(name, _)| name.trim().to_string())
    }))
}

#[test]
fn every_ipc_command_is_registered_permitted_granted_and_typed_in_the_ui() {
    let functions = command_functions();
    assert!(
        functions.contains("portal_status") && functions.len() >= 5,
        "the command functions were found: {functions:?}"
    );
    for (place, list) in [
        (
            "generate_handler! in src-tauri/src/commands/mod.rs",
            handler(),
        ),
        ("COMMANDS in src-tauri/build.rs", build_rs()),
        ("allow-* in src-tauri/capabilities/main.json", capability()),
        (
            "interface Commands in ui/src/lib/ipc/commands.ts",
            ui_command_map(),
        ),
    ] {
        let missing: Vec<_> = functions.difference(&list).collect();
        let extra: Vec<_> = list.difference(&functions).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{place} differs from the #[tauri::command] functions: missing {missing:?}, unknown {extra:?}"
        );
    }
}
