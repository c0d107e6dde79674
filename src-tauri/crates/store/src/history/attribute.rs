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
//!
//! A save also changes fields the portal computes from the ones saved (see [`follows_from`]):
//! those belong to whoever changed what they follow from — our write, or the stage's mover.

use kartoteka_domain::EntityType;

/// What a stage change makes the portal set (the factories' field maps,
/// `crm/lib/Service/Factory/Deal.php`, `Lead.php`): the stage group
/// (`crm/lib/Field/StageSemanticId.php`), `closed` (`Closed.php`), the stage left
/// (`PreviousStageId.php`) and whether it is the pipeline's first (`IsNew.php`). The mover and
/// the move's time are bookkeeping, never events (`observe.rs`).
const FOLLOW_STAGE: &[&str] = &["stageSemanticId", "closed", "previousStageId", "isNew"];

/// What a pipeline change makes the portal set: the new pipeline's stage (a stage of the old
/// one is not kept) and all that follows from a stage.
const FOLLOW_CATEGORY: &[&str] = &[
    "stageId",
    "stageSemanticId",
    "closed",
    "previousStageId",
    "isNew",
];

/// The close date, which a move sets only when it is to a final stage
/// (`crm/lib/Field/CloseDate.php`, `ComparerBase::isMovedToFinalStage`): `closedate` of a deal,
/// `dateClosed` of a lead. On another move, a new close date is a person's.
const CLOSE_DATES: &[&str] = &["closedate", "dateClosed"];

/// What a change of a multi-field entry makes the portal set: whether the record has a phone,
/// an e-mail, an open-line address (`crm/lib/Field/HasPhone.php`, `HasEmail.php`,
/// `HasImol.php`, from the whole `FM`).
const FOLLOW_MULTI_FIELD: &[&str] = &["hasPhone", "hasEmail", "hasImol"];

/// What an amount change makes the portal set: the amount in the account currency
/// (`crm/lib/Field/Opportunity.php` `syncOpportunityAccount`), and the rate, when the amount is
/// entered by hand (`ExchRate.php`).
const FOLLOW_OPPORTUNITY: &[&str] = &["opportunityAccount", "accountCurrencyId", "exchRate"];

/// What a tax change makes the portal set (`crm/lib/Field/TaxValue.php`).
const FOLLOW_TAX: &[&str] = &["taxValueAccount", "accountCurrencyId"];

/// What a currency change makes the portal set: the rate (`crm/lib/Field/ExchRate.php`), and
/// with it both amounts in the account currency (`Opportunity.php`, `TaxValue.php`).
const FOLLOW_CURRENCY: &[&str] = &[
    "exchRate",
    "opportunityAccount",
    "taxValueAccount",
    "accountCurrencyId",
];

/// What a change of a name part makes the portal set (`crm/lib/Field/FullName.php`).
const FOLLOW_NAME: &[&str] = &["fullName"];

/// What a change of the client makes the portal set: whether the client had a successful deal
/// or lead before (`crm/lib/Field/IsReturnCustomer.php`, `IsRepeatedApproach.php`).
const FOLLOW_CLIENT: &[&str] = &["isReturnCustomer", "isRepeatedApproach"];

/// The fields the portal sets itself when a save changes `sent` (an outbox field: a `crm.item`
/// name, or `fm:<entry id>`), by their `crm.item` names as the replica keeps them.
fn follows_from(sent: &str) -> &'static [&'static str] {
    if sent == "fm" || sent.starts_with(crate::edit::FM_PREFIX) {
        return FOLLOW_MULTI_FIELD;
    }
    match sent {
        "stageId" => FOLLOW_STAGE,
        "categoryId" => FOLLOW_CATEGORY,
        "opportunity" => FOLLOW_OPPORTUNITY,
        "taxValue" => FOLLOW_TAX,
        "currencyId" => FOLLOW_CURRENCY,
        "name" | "lastName" => FOLLOW_NAME,
        "contactIds" | "contactId" | "companyId" | "companyIds" => FOLLOW_CLIENT,
        _ => &[],
    }
}

/// The fields that link a record to records of `target`: the outbox fields a write that adds
/// or removes such a link sends (`contactIds` with the primary `contactId`, `companyId` or a
/// contact's `companyIds`, `leadId`).
fn link_fields_to(target: EntityType) -> &'static [&'static str] {
    match target {
        EntityType::Contact => &["contactIds", "contactId"],
        EntityType::Company => &["companyId", "companyIds"],
        EntityType::Lead => &["leadId"],
        EntityType::Deal => &[],
    }
}

/// One change found between two server versions of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObservedChange<'a> {
    /// A field, by its `crm.item` name.
    Field(&'a str),
    /// A multi-field entry (phone, e-mail, …), by its id.
    MultiField(i64),
    /// A link to a record of this type added or removed.
    Link(EntityType),
    /// Back from the recycle bin.
    Restored,
}

/// This user's write that may be a record's last update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnWrite<'a> {
    /// This replica's user: the portal user Kartoteka writes as.
    pub me: i64,
    /// What the write sent, as outbox fields: `crm.item` names, `fm:<entry id>`, `*` (a
    /// create). What the portal set because of them ([`follows_from`]) is the write's too.
    pub fields: &'a [String],
}

/// Whether `name` is set by the portal because of a move of the stage (`closes`: to a final one).
fn follows_from_move(name: &str, closes: bool) -> bool {
    FOLLOW_STAGE.contains(&name) || (closes && CLOSE_DATES.contains(&name))
}

impl OwnWrite<'_> {
    /// Whether the write sent `change`, or `change` is what the portal set because of it
    /// (`closes`: the record is now in a final stage).
    fn sent(&self, change: ObservedChange<'_>, closes: bool) -> bool {
        self.fields.iter().any(|f| {
            f == "*"
                || match change {
                    ObservedChange::Field(name) => {
                        f == name
                            || follows_from(f).contains(&name)
                            || (matches!(f.as_str(), "stageId" | "categoryId")
                                && follows_from_move(name, closes))
                    }
                    ObservedChange::MultiField(id) => {
                        f == "fm" || f.strip_prefix(crate::edit::FM_PREFIX) == Some(&id.to_string())
                    }
                    ObservedChange::Link(target) => link_fields_to(target).contains(&f.as_str()),
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
/// of a move made since the previous version (a new `movedTime` with a `movedBy`); `closes`
/// whether the record is now in a final stage.
pub(crate) fn change_author(
    change: ObservedChange<'_>,
    updated_by: Option<i64>,
    own: Option<&OwnWrite<'_>>,
    moved: bool,
    closes: bool,
) -> ChangeAuthor {
    if change == ObservedChange::Restored {
        return ChangeAuthor::Unknown;
    }
    let Some(own) = own.filter(|o| updated_by == Some(o.me)) else {
        return ChangeAuthor::LastUpdater;
    };
    if own.sent(change, closes) {
        ChangeAuthor::LastUpdater
    } else if moved
        && matches!(change, ObservedChange::Field(f) if f == "stageId" || follows_from_move(f, closes))
    {
        // The move and what the portal set because of it are its mover's.
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

    /// Whether a mover is named, and whether the record is now in a final stage.
    type Stage = (bool, bool);
    const STILL: Stage = (false, false);
    const MOVED: Stage = (true, false);
    const CLOSED: Stage = (false, true);
    const MOVED_CLOSED: Stage = (true, true);

    /// Why, the change, the record's `updatedBy`, our write, the stage, and whom the change is
    /// put under.
    type Case<'a> = (
        &'static str,
        ObservedChange<'a>,
        Option<i64>,
        Option<OwnWrite<'a>>,
        Stage,
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
        let stage = sent(&["stageId"]);
        let pipeline = sent(&["categoryId"]);
        let currency = sent(&["currencyId"]);
        fn own(fields: &[String]) -> OwnWrite<'_> {
            OwnWrite { me: ME, fields }
        }
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            ("an ordinary pull: the last updater is the best guess",
             Field("title"), Some(COLLEAGUE), None, STILL, LastUpdater),
            ("the same user on the portal, nothing of ours in flight: it is them",
             Field("title"), Some(ME), None, STILL, LastUpdater),
            ("our write, another field: not ours",
             Field("title"), Some(ME), Some(own(&amount)), STILL, Unknown),
            ("our write, the field it sent: ours",
             Field("opportunity"), Some(ME), Some(own(&amount)), STILL, LastUpdater),
            ("our write, a stage moved since with its mover named: the mover",
             Field("stageId"), Some(ME), Some(own(&amount)), MOVED, Mover),
            ("our write, a stage changed with no mover named: not ours",
             Field("stageId"), Some(ME), Some(own(&amount)), STILL, Unknown),
            ("our write, but saved by someone else since: they are the best guess",
             Field("title"), Some(COLLEAGUE), Some(own(&amount)), STILL, LastUpdater),
            ("our write, the phone it sent",
             MultiField(41), Some(ME), Some(own(&phone)), STILL, LastUpdater),
            ("our write, another phone",
             MultiField(42), Some(ME), Some(own(&phone)), STILL, Unknown),
            ("our write, the links it sent",
             Link(EntityType::Contact), Some(ME), Some(own(&contacts)), STILL, LastUpdater),
            ("our write, links it did not send",
             Link(EntityType::Contact), Some(ME), Some(own(&amount)), STILL, Unknown),
            ("our write, a link to another type than it sent: not ours",
             Link(EntityType::Company), Some(ME), Some(own(&contacts)), STILL, Unknown),
            ("our move: the stage group the portal set is ours",
             Field("stageSemanticId"), Some(ME), Some(own(&stage)), CLOSED, LastUpdater),
            ("our move: `closed` is ours",
             Field("closed"), Some(ME), Some(own(&stage)), CLOSED, LastUpdater),
            ("our move to a final stage: the close date the portal set is ours",
             Field("closedate"), Some(ME), Some(own(&stage)), CLOSED, LastUpdater),
            ("our move to an open stage sets no close date: a new one is not ours",
             Field("closedate"), Some(ME), Some(own(&stage)), STILL, Unknown),
            ("our pipeline change: the stage it put the deal in is ours",
             Field("stageId"), Some(ME), Some(own(&pipeline)), STILL, LastUpdater),
            ("our phone: whether there is one is ours",
             Field("hasPhone"), Some(ME), Some(own(&phone)), STILL, LastUpdater),
            ("our amount: in the account currency too",
             Field("opportunityAccount"), Some(ME), Some(own(&amount)), STILL, LastUpdater),
            ("our currency: the rate and the converted tax",
             Field("taxValueAccount"), Some(ME), Some(own(&currency)), STILL, LastUpdater),
            ("our amount, a phone flag changed: not ours",
             Field("hasPhone"), Some(ME), Some(own(&amount)), STILL, Unknown),
            ("our write, a move to a final stage by its named mover: the group is the mover's",
             Field("stageSemanticId"), Some(ME), Some(own(&amount)), MOVED_CLOSED, Mover),
            ("and so is the close date it set",
             Field("closedate"), Some(ME), Some(own(&amount)), MOVED_CLOSED, Mover),
            ("a close date changed beside an open move: not the mover's",
             Field("closedate"), Some(ME), Some(own(&amount)), MOVED, Unknown),
            ("our create: every field is ours",
             Field("title"), Some(ME), Some(own(&created)), STILL, LastUpdater),
            ("a restore never names its restorer",
             Restored, Some(COLLEAGUE), None, STILL, Unknown),
            ("not even when we saved it last",
             Restored, Some(ME), Some(own(&amount)), STILL, Unknown),
        ];
        for (why, change, updated_by, own, (moved, closes), want) in cases {
            assert_eq!(
                change_author(change, updated_by, own.as_ref(), moved, closes),
                want,
                "{why}"
            );
        }
    }
}
