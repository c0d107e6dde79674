//! Whom an observed change is put under. A pull's best guess is the record's `updatedBy`: the
//! portal sets it to the acting user on every update (`crm/lib/Field/UpdatedBy.php`), so it
//! names whoever saved the record last — and, for the fields that save did not touch, someone
//! who may not have changed them at all. That guess stays for other users (history calls such
//! events "observed"), but a change is never put under this user's name unless Kartoteka wrote
//! it: when the record's last update may be Kartoteka's own write (the upload just answered, or
//! one sent whose outcome is not known), `updatedBy` names us, and the fields that write did not
//! send are someone else's — their author is unknown. A stage move is the exception: the portal
//! keeps its mover (`movedBy` and `movedTime` are set only when the stage changes,
//! `crm/lib/Field/MovedBy.php`, `MovedTime.php`). A restore from the recycle bin keeps the old
//! `updatedBy` (`crm/lib/Service/Operation/Restore.php`): it never names the restorer.

use kartoteka_domain::record::LINK_FIELDS;

/// One change found between two server versions of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObservedChange<'a> {
    /// A field, by its `crm.item` name.
    Field(&'a str),
    /// A multi-field entry (phone, e-mail, …), by its id.
    MultiField(i64),
    /// A link added or removed.
    Link,
    /// Back from the recycle bin.
    Restored,
}

/// This user's write that may be a record's last update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnWrite<'a> {
    /// This replica's user: the portal user Kartoteka writes as.
    pub me: i64,
    /// What the write sent, as outbox fields: `crm.item` names, `fm:<entry id>`, `*` (a
    /// create).
    pub fields: &'a [String],
}

impl OwnWrite<'_> {
    fn sent(&self, change: ObservedChange<'_>) -> bool {
        self.fields.iter().any(|f| {
            f == "*"
                || match change {
                    ObservedChange::Field(name) => f == name,
                    ObservedChange::MultiField(id) => {
                        f == "fm" || f.strip_prefix(crate::edit::FM_PREFIX) == Some(&id.to_string())
                    }
                    ObservedChange::Link => LINK_FIELDS.contains(&f.as_str()),
                    ObservedChange::Restored => false,
                }
        })
    }
}

/// Who an observed change is put under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeAuthor {
    /// The record's `updatedBy`, at its `updatedTime`.
    LastUpdater,
    /// The record's `movedBy`, at its `movedTime`.
    Mover,
    /// Nobody known, at the record's `updatedTime`.
    Unknown,
}

/// The author of one observed change. `updated_by` is the record's `updatedBy`; `own` the write
/// of this user that may be its last update, if any; `moved` whether the record names a mover
/// of a move made since the previous version (a new `movedTime` with a `movedBy`).
pub(crate) fn change_author(
    change: ObservedChange<'_>,
    updated_by: Option<i64>,
    own: Option<&OwnWrite<'_>>,
    moved: bool,
) -> ChangeAuthor {
    if change == ObservedChange::Restored {
        return ChangeAuthor::Unknown;
    }
    let Some(own) = own.filter(|o| updated_by == Some(o.me)) else {
        return ChangeAuthor::LastUpdater;
    };
    if own.sent(change) {
        ChangeAuthor::LastUpdater
    } else if change == ObservedChange::Field("stageId") && moved {
        ChangeAuthor::Mover
    } else {
        ChangeAuthor::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChangeAuthor::*;
    use ObservedChange::*;

    const ME: i64 = 3;
    const COLLEAGUE: i64 = 5;

    /// Why, the change, the record's `updatedBy`, our write, whether a mover is named, and
    /// whom the change is put under.
    type Case<'a> = (
        &'static str,
        ObservedChange<'a>,
        Option<i64>,
        Option<OwnWrite<'a>>,
        bool,
        ChangeAuthor,
    );

    #[test]
    fn changes_are_never_put_under_our_name_unless_we_wrote_them() {
        let sent =
            |fields: &[&str]| -> Vec<String> { fields.iter().map(|f| f.to_string()).collect() };
        let amount = sent(&["opportunity"]);
        let phone = sent(&["fm:41"]);
        let contacts = sent(&["contactIds"]);
        let created = sent(&["*"]);
        fn own(fields: &[String]) -> OwnWrite<'_> {
            OwnWrite { me: ME, fields }
        }
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            ("an ordinary pull: the last updater is the best guess",
             Field("title"), Some(COLLEAGUE), None, false, LastUpdater),
            ("the same user on the portal, nothing of ours in flight: it is them",
             Field("title"), Some(ME), None, false, LastUpdater),
            ("our write, another field: not ours",
             Field("title"), Some(ME), Some(own(&amount)), false, Unknown),
            ("our write, the field it sent: ours",
             Field("opportunity"), Some(ME), Some(own(&amount)), false, LastUpdater),
            ("our write, a stage moved since with its mover named: the mover",
             Field("stageId"), Some(ME), Some(own(&amount)), true, Mover),
            ("our write, a stage changed with no mover named: not ours",
             Field("stageId"), Some(ME), Some(own(&amount)), false, Unknown),
            ("our write, but saved by someone else since: they are the best guess",
             Field("title"), Some(COLLEAGUE), Some(own(&amount)), false, LastUpdater),
            ("our write, the phone it sent",
             MultiField(41), Some(ME), Some(own(&phone)), false, LastUpdater),
            ("our write, another phone",
             MultiField(42), Some(ME), Some(own(&phone)), false, Unknown),
            ("our write, the links it sent",
             Link, Some(ME), Some(own(&contacts)), false, LastUpdater),
            ("our write, links it did not send",
             Link, Some(ME), Some(own(&amount)), false, Unknown),
            ("our create: every field is ours",
             Field("title"), Some(ME), Some(own(&created)), false, LastUpdater),
            ("a restore never names its restorer",
             Restored, Some(COLLEAGUE), None, false, Unknown),
            ("not even when we saved it last",
             Restored, Some(ME), Some(own(&amount)), false, Unknown),
        ];
        for (why, change, updated_by, own, moved, want) in cases {
            assert_eq!(
                change_author(change, updated_by, own.as_ref(), moved),
                want,
                "{why}"
            );
        }
    }
}
