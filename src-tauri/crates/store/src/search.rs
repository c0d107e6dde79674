//! Record search (issue 11 §6): what a record's searchable text is, and how what a person typed
//! becomes a query of the trigram index `records_search`.
//!
//! The text holds what a list row shows: the title, the name parts, the company's name and the
//! responsible's name, plus e-mails and each phone as `#` and its digits in international form
//! (`8 903 218-08-88` → `#79032180888`). The trigram index finds any substring of 3+ characters;
//! two characters find the start of a word (`" ив"`); a query that looks like a phone number is
//! matched against the digits, so `89032180888`, `8 903…`, `903218…` and `+7 903…` all find
//! `+7 903 218-08-88`, and `+7 9` finds only numbers that start with 7 9.
//!
//! Names of other things are copied into the text when the record is written, so a search is one
//! lookup of the index (fast at a million records). The price is paid on a rename: a company's
//! new name re-indexes the records whose row shows it, a user's new name the records they are
//! responsible for ([`reindex`]); renames are rare and each costs one transaction.

use crate::promote::{fold_yo, hash64, key_of, promote, Promoted};
use crate::{RecordState, StoreError};
use kartoteka_domain::{EntityType, MultiFieldKind, Record};
use rusqlite::{params, CachedStatement, Connection, OptionalExtension};
use std::collections::HashMap;

/// The names a record's searchable text copies from other rows: its company's title and its
/// responsible's name. Users are read once per transaction; companies as they are met.
pub(crate) struct Names<'c> {
    company: CachedStatement<'c>,
    companies: HashMap<i64, Option<String>>,
    users: HashMap<i64, String>,
}

impl<'c> Names<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        let mut users = HashMap::new();
        let mut stmt = conn.prepare_cached("SELECT id, name, last_name FROM users")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let name: String = r.get("name")?;
            let last: String = r.get("last_name")?;
            users.insert(r.get("id")?, format!("{name} {last}"));
        }
        Ok(Names {
            company: conn
                .prepare_cached("SELECT title FROM records WHERE rid = ?1 AND state <> 2")?,
            companies: HashMap::new(),
            users,
        })
    }

    fn company(&mut self, id: i64) -> Result<Option<String>, StoreError> {
        if let Some(t) = self.companies.get(&id) {
            return Ok(t.clone());
        }
        let rid = (EntityType::Company.type_id() << 48) | id;
        let title: Option<String> = self.company.query_row([rid], |r| r.get(0)).optional()?;
        self.companies.insert(id, title.clone());
        Ok(title)
    }

    /// Forget a company's cached title (it was written in this transaction).
    pub(crate) fn forget_company(&mut self, id: i64) {
        self.companies.remove(&id);
    }
}

/// A phone's searchable form: `#` and its digits in international form; Russian numbers
/// written the domestic way (`8…`, 11 digits) or without the country code (10 digits) get `7`.
fn phone_token(value: &str) -> Option<String> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let international = if digits.len() == 11 && digits.starts_with('8') {
        format!("7{}", &digits[1..])
    } else if digits.len() == 10 && !value.trim_start().starts_with('+') {
        format!("7{digits}")
    } else {
        digits
    };
    Some(format!("#{international}"))
}

/// Characters that stand around words in titles (`ООО «Ромашка»`): spaces in the text, so a
/// two-letter query finds the word's start.
fn is_bracket(c: char) -> bool {
    matches!(c, '«' | '»' | '"' | '(' | ')' | '[' | ']' | '„' | '“' | '”')
}

fn push_text(body: &mut String, text: &str) {
    body.push(' ');
    body.extend(text.chars().map(|c| if is_bracket(c) { ' ' } else { c }));
}

/// The text search matches for a record (starts with a space, see the module doc).
pub(crate) fn search_body(
    record: &Record,
    promoted: &Promoted,
    names: &mut Names<'_>,
) -> Result<String, StoreError> {
    let mut body = String::with_capacity(160);
    push_text(&mut body, &promoted.title);
    for name in ["name", "secondName", "lastName", "companyTitle"] {
        if let Some(t) = record.text(name) {
            if !t.is_empty() && !promoted.title.contains(t) {
                push_text(&mut body, t);
            }
        }
    }
    if record.key.entity_type != EntityType::Company {
        if let Some(id) = promoted.company_id {
            if let Some(title) = names.company(id)? {
                push_text(&mut body, &title);
            }
        }
    }
    if let Some(user) = promoted.assigned_by_id.and_then(|id| names.users.get(&id)) {
        push_text(&mut body, user);
    }
    for m in &record.multi_fields {
        match m.kind {
            MultiFieldKind::Phone => {
                if let Some(t) = phone_token(&m.value) {
                    body.push(' ');
                    body.push_str(&t);
                }
            }
            MultiFieldKind::Email => push_text(&mut body, &m.value),
            _ => {}
        }
    }
    Ok(fold_yo(&body))
}

/// What a typed search asks of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchQuery {
    /// Nothing to search for yet (empty, or a single letter or digit): the list is not filtered.
    NotYet,
    /// No letter or digit at all (`<`, `--`): nothing can match, the list is empty.
    Nothing,
    /// An FTS5 query of the trigram index.
    Match(String),
}

fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A run of digits: 3+ anywhere (in the digits of a phone too); 2 at the start of a word or of a
/// number.
fn digits_term(d: &str) -> String {
    if d.chars().count() >= 3 {
        phrase(d)
    } else {
        format!(
            "({} OR {})",
            phrase(&format!(" {d}")),
            phrase(&format!(" #{d}"))
        )
    }
}

fn is_phone_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '+' | '(' | ')' | '-' | '.' | ' ' | '\u{a0}')
}

/// Turns what a person typed into a query of the trigram index: every word must be in the text
/// (3+ characters anywhere, 2 at a word's start, 1 is dropped); a query of only digits and phone
/// punctuation is one run of digits: with `+` it is the start of a number, with a leading 8 the
/// domestic form of `+7` (or the digits anywhere).
pub(crate) fn search_query(input: &str) -> SearchQuery {
    let input = fold_yo(input.trim());
    if input.is_empty() {
        return SearchQuery::NotYet;
    }
    if !input.chars().any(char::is_alphanumeric) {
        return SearchQuery::Nothing;
    }
    if input.chars().all(is_phone_char) {
        let d: String = input.chars().filter(char::is_ascii_digit).collect();
        if input.starts_with('+') {
            return SearchQuery::Match(phrase(&format!(" #{d}")));
        }
        if d.len() < 2 {
            return SearchQuery::NotYet;
        }
        if let Some(rest) = d.strip_prefix('8') {
            return SearchQuery::Match(format!(
                "({} OR {})",
                phrase(&format!(" #7{rest}")),
                digits_term(&d)
            ));
        }
        return SearchQuery::Match(digits_term(&d));
    }
    let terms: Vec<String> = input
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter_map(|w| match w.chars().count() {
            0 | 1 => None,
            2 if w.chars().all(|c| c.is_ascii_digit()) => Some(digits_term(w)),
            2 => Some(phrase(&format!(" {w}"))),
            _ => Some(phrase(w)),
        })
        .collect();
    if terms.is_empty() {
        return SearchQuery::NotYet;
    }
    SearchQuery::Match(terms.join(" AND "))
}

/// Writes `rid`'s searchable text again if it changed (a name it copies was renamed). Hidden
/// records are not in the index.
pub(crate) fn reindex(
    conn: &Connection,
    names: &mut Names<'_>,
    rids: &[i64],
) -> Result<u64, StoreError> {
    let mut read = conn.prepare_cached(
        "SELECT r.state, r.search_hash, f.fields, f.multi_fields FROM records r \
         JOIN record_fields f ON f.rid = r.rid WHERE r.rid = ?1",
    )?;
    let mut unindex = conn.prepare_cached("DELETE FROM records_search WHERE rowid = ?1")?;
    let mut index =
        conn.prepare_cached("INSERT INTO records_search (rowid, body) VALUES (?1, ?2)")?;
    let mut set_hash = conn.prepare_cached("UPDATE records SET search_hash = ?2 WHERE rid = ?1")?;
    let mut changed = 0;
    for &rid in rids {
        let Some((state, old_hash, fields, multi)) = read
            .query_row([rid], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?
        else {
            continue;
        };
        if RecordState::from_code(state)? == RecordState::Hidden {
            continue;
        }
        let record = Record {
            key: key_of(rid)?,
            updated_time: None,
            fields: serde_json::from_str(&fields)?,
            multi_fields: serde_json::from_str(&multi)?,
        };
        let promoted = promote(&record);
        let body = search_body(&record, &promoted, names)?;
        let hash = hash64(&[body.as_bytes()]);
        if hash != old_hash {
            unindex.execute([rid])?;
            index.execute(params![rid, body])?;
            set_hash.execute(params![rid, hash])?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Writes every visible record's searchable text (the migration that made the index).
pub(crate) fn rebuild(conn: &Connection) -> Result<u64, StoreError> {
    let rids: Vec<i64> = {
        let mut stmt = conn.prepare("SELECT rid FROM records WHERE state <> 2 ORDER BY rid")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut names = Names::new(conn)?;
    // Companies first: the others copy their names.
    let (companies, others): (Vec<i64>, Vec<i64>) = rids
        .into_iter()
        .partition(|rid| rid >> 48 == EntityType::Company.type_id());
    Ok(reindex(conn, &mut names, &companies)? + reindex(conn, &mut names, &others)?)
}

/// The records whose row shows company `company_id`'s name (deals, contacts, leads).
pub(crate) fn company_dependents(
    conn: &Connection,
    company_id: i64,
) -> Result<Vec<i64>, StoreError> {
    let company_rid = (EntityType::Company.type_id() << 48) | company_id;
    let mut stmt = conn.prepare_cached(
        "SELECT r.rid FROM links l JOIN records r ON r.rid = l.from_rid \
         WHERE l.to_rid = ?1 AND r.company_id = ?2",
    )?;
    let rows = stmt.query_map(params![company_rid, company_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The records user `user_id` is responsible for.
pub(crate) fn responsible_for(conn: &Connection, user_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT rid FROM records WHERE entity_type = ?1 AND assigned_by_id = ?2")?;
    let mut out = Vec::new();
    for t in EntityType::ALL {
        let rows = stmt.query_map(params![t.type_id(), user_id], |r| r.get(0))?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> SearchQuery {
        search_query(s)
    }

    fn m(s: &str) -> SearchQuery {
        SearchQuery::Match(s.to_string())
    }

    #[test]
    fn words_are_substrings_and_two_letters_a_word_start() {
        assert_eq!(q("Иван  ПЕТ"), m("\"Иван\" AND \"ПЕТ\""));
        assert_eq!(q("ив"), m("\" ив\""));
        assert_eq!(q("ivan.petrov@"), m("\"ivan.petrov\""));
        assert_eq!(q("Семён"), m("\"Семен\""));
        assert_eq!(q("a \"b\"c"), m("\"b\"\"c\""));
    }

    #[test]
    fn phone_like_queries_are_one_run_of_digits() {
        assert_eq!(q("+7 9"), m("\" #79\""));
        assert_eq!(q("903 218"), m("\"903218\""));
        assert_eq!(q("8 903"), m("(\" #7903\" OR \"8903\")"));
        assert_eq!(
            q("89032180888"),
            m("(\" #79032180888\" OR \"89032180888\")")
        );
        assert_eq!(q("90"), m("(\" 90\" OR \" #90\")"));
    }

    #[test]
    fn queries_without_letters_or_digits_match_nothing_and_one_letter_waits() {
        assert_eq!(q("<"), SearchQuery::Nothing);
        assert_eq!(q(" -- "), SearchQuery::Nothing);
        assert_eq!(q(""), SearchQuery::NotYet);
        assert_eq!(q("и"), SearchQuery::NotYet);
        assert_eq!(q("7"), SearchQuery::NotYet);
    }

    #[test]
    fn phones_are_indexed_in_international_form() {
        assert_eq!(
            phone_token("8 903 218-08-88").as_deref(),
            Some("#79032180888")
        );
        assert_eq!(
            phone_token("+7 (903) 218-08-88").as_deref(),
            Some("#79032180888")
        );
        assert_eq!(
            phone_token("903 218 08 88").as_deref(),
            Some("#79032180888")
        );
        assert_eq!(
            phone_token("+1 212 555 0100").as_deref(),
            Some("#12125550100")
        );
        assert_eq!(phone_token("нет"), None);
    }
}
