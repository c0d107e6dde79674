//! Whether a create that may already be on the portal goes out again (house style: decide, then
//! do; [`crate::push`] only performs what [`create_step`] returns). A create is never sent
//! twice: one whose send got no answer is looked up by its tag (`originatorId` + `originId`)
//! first, and sent again only when "nothing found" proves it is not there. Otherwise the user is
//! asked ([`kartoteka_domain::OutboxState::Uncertain`]).
//!
//! When "nothing found" proves it, on a portal of version 26.250:
//! - `crm.item.list` returns only what the caller may read: an administrator passes every check
//!   (`crm/lib/Service/UserPermissions/EntityPermissions/Item.php`, `hasPermissions`), so for
//!   an administrator an empty answer is conclusive.
//! - Everyone else reads by their role's level against the item's attributes: `U<responsible>`,
//!   `O` when open, its stage, `CU<observer>`, and the responsible's departments (`Item.php`
//!   `prepareItemPermissionAttributes`, `crm/lib/security/attributesprovider.php`). "Own" is
//!   the records one is responsible for, so the least reading level shows a record whose
//!   responsible is the user. A create that names no responsible gets its creator
//!   (`crm/lib/Field/Assigned.php`, `processLogic`).
//! - A create for someone else is readable only with levels the replica does not know (open,
//!   department, all), so for it an empty answer proves nothing. (A user who may add only
//!   their own records gets such a create assigned to themselves, `Assigned.php`
//!   `processWithPermissions`: then the look-up finds it.) Observers are left out on purpose:
//!   whether they count depends on the type and the portal's observer tables, and a needless
//!   question costs less than a duplicate.
//! - Not covered: a role that may add records of a pipeline it may not read at all, even its
//!   own. Kartoteka's pull would show no such records either.

use serde_json::{Map, Value};

/// How the portal answered the look-up of a create's tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagLookup {
    /// Not asked: no send of this create can have landed unseen.
    NotNeeded,
    /// An item with the tag came back.
    Found,
    /// The list was answered, without an item.
    Nothing,
    /// The portal refused the list: the user may not list records of this type.
    Denied,
    /// No answer for the command, or a refusal that may pass (a rate limit, …).
    NoAnswer,
}

/// Whether the user would see the record a create makes, were it on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Surely,
    NotSurely,
}

/// What becomes of one queued create this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateStep {
    /// `crm.item.add`.
    Send,
    /// It is on the portal: the found item is the answer; nothing is sent.
    TakeFound,
    /// It may be on the portal and nobody here can tell: not sent; the user says.
    AskUser,
    /// The look-up was not answered: not sent; the next run looks again.
    LookAgain,
}

/// The decision for one create, from its look-up and whether the user could see its record.
pub fn create_step(lookup: TagLookup, visibility: Visibility) -> CreateStep {
    match (lookup, visibility) {
        (TagLookup::NotNeeded, _) => CreateStep::Send,
        (TagLookup::Found, _) => CreateStep::TakeFound,
        (TagLookup::Nothing, Visibility::Surely) => CreateStep::Send,
        (TagLookup::Nothing, Visibility::NotSurely) => CreateStep::AskUser,
        // May not list the type: nothing found proves nothing, and waiting will not change it.
        (TagLookup::Denied, _) => CreateStep::AskUser,
        (TagLookup::NoAnswer, _) => CreateStep::LookAgain,
    }
}

/// Who reads the portal, as the replica knows from the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reader {
    /// The signed-in user (`None` until a sync has said).
    pub user_id: Option<i64>,
    /// A portal administrator (`user.admin`).
    pub is_admin: bool,
}

/// Whether `reader` would see the record made by a create with these `fields` (the create's
/// `fields` as sent, `crm.item` names).
pub fn visibility(fields: &Map<String, Value>, reader: Reader) -> Visibility {
    if reader.is_admin {
        return Visibility::Surely;
    }
    let Some(user) = reader.user_id else {
        return Visibility::NotSurely;
    };
    let responsible = match fields.get("assignedById") {
        None | Some(Value::Null) => Some(user),
        Some(Value::String(s)) if s.trim().is_empty() => Some(user),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    if responsible == Some(user) {
        Visibility::Surely
    } else {
        Visibility::NotSurely
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::never_sent(TagLookup::NotNeeded, Visibility::NotSurely, CreateStep::Send)]
    #[case::found_by_someone_who_sees_it(
        TagLookup::Found,
        Visibility::Surely,
        CreateStep::TakeFound
    )]
    #[case::found_though_not_surely_visible(
        TagLookup::Found,
        Visibility::NotSurely,
        CreateStep::TakeFound
    )]
    #[case::not_there_for_sure(TagLookup::Nothing, Visibility::Surely, CreateStep::Send)]
    #[case::not_seen_is_not_absent(TagLookup::Nothing, Visibility::NotSurely, CreateStep::AskUser)]
    #[case::may_not_list_the_type(TagLookup::Denied, Visibility::Surely, CreateStep::AskUser)]
    #[case::no_answer_looks_again(TagLookup::NoAnswer, Visibility::Surely, CreateStep::LookAgain)]
    #[case::no_answer_not_visible(
        TagLookup::NoAnswer,
        Visibility::NotSurely,
        CreateStep::LookAgain
    )]
    fn a_create_is_sent_only_when_it_surely_is_not_there(
        #[case] lookup: TagLookup,
        #[case] visibility: Visibility,
        #[case] step: CreateStep,
    ) {
        assert_eq!(create_step(lookup, visibility), step);
    }

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    const USER: Reader = Reader {
        user_id: Some(6),
        is_admin: false,
    };

    #[rstest]
    #[case::no_responsible_is_the_creator(json!({"title": "x"}), USER, Visibility::Surely)]
    #[case::empty_responsible_is_the_creator(json!({"assignedById": ""}), USER, Visibility::Surely)]
    #[case::null_responsible_is_the_creator(json!({"assignedById": null}), USER, Visibility::Surely)]
    #[case::responsible_is_the_user(json!({"assignedById": 6}), USER, Visibility::Surely)]
    #[case::responsible_as_text(json!({"assignedById": "6"}), USER, Visibility::Surely)]
    #[case::someone_else(json!({"assignedById": 2}), USER, Visibility::NotSurely)]
    #[case::someone_else_as_text(json!({"assignedById": "2"}), USER, Visibility::NotSurely)]
    #[case::an_administrator_sees_all(
        json!({"assignedById": 2}),
        Reader { user_id: Some(1), is_admin: true },
        Visibility::Surely
    )]
    #[case::user_not_known_yet(json!({}), Reader::default(), Visibility::NotSurely)]
    #[case::unreadable_responsible(json!({"assignedById": [2]}), USER, Visibility::NotSurely)]
    fn the_user_surely_sees_only_their_own_record_or_everything_as_administrator(
        #[case] create: Value,
        #[case] reader: Reader,
        #[case] expected: Visibility,
    ) {
        assert_eq!(visibility(&fields(create), reader), expected);
    }
}
