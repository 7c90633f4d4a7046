//! Issue 28: one list of every use case. [`USE_CASES`] names each public use case of the
//! service with a call of it; every one is run as an operator demoted, disabled and deleted
//! since signing in, and must be refused. [`every_pub_use_case_is_listed`] parses the
//! service's `pub async fn`s, so a new use case that is in none of the lists fails the test.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use hubdeck::domain::audit::TimeRange;
use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{
    MandateId, MandateRoleId, PageQuery, RegistrationId, RoleRef, TrustId, UserSub,
};
use hubdeck::service::audit::ExportFormat;
use hubdeck::service::bulk::{BulkAction, BulkTarget};
use hubdeck::service::drift::{DriftClass, DriftTarget, RepairPreview};
use hubdeck::service::mandates::{MandateInput, MandatePatch};
use hubdeck::service::members::MemberRef;
use hubdeck::service::registration::RegisterRequest;
use hubdeck::service::user_roles::RolesEdit;
use hubdeck::service::{Actor, ServiceError, ServiceResult, Services};
use uuid::Uuid;

use crate::support::pg::{TestDb, fresh_db};
use crate::tui_e2e::{seed_identity, seed_mandate, services};

/// What every use case runs against.
pub struct Fx {
    pub s: Services,
    /// The operator under test (signed in as global ADMIN, then demoted, disabled or deleted).
    pub op: Actor,
    pub mandate: MandateId,
    /// A user with an identity, a global grant and a membership of `mandate`.
    pub user: UserSub,
    pub member_change: Uuid,
    pub user_change: Uuid,
    pub repair: RepairPreview,
    /// A trust (registered by the boss) and a stuck registration.
    pub trust: TrustId,
    pub registration: RegistrationId,
    /// A change another operator proposed (the user's deletion), waiting for approval.
    pub change: i64,
}

type Run = for<'a> fn(&'a Fx) -> Pin<Box<dyn Future<Output = ServiceResult<()>> + Send + 'a>>;

fn q() -> PageQuery {
    PageQuery::new(1, 10)
}

fn ok<T>(r: ServiceResult<T>) -> ServiceResult<()> {
    r.map(drop)
}

/// Every use case an operator runs, by the name of its service function.
pub static USE_CASES: &[(&str, Run)] = &[
    ("seal_audit", |f| {
        Box::pin(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("seal.key");
            hubdeck::service::seal::SealKey::generate(&path)?;
            let key = hubdeck::service::seal::SealKey::load(&path)?;
            ok(f.s.seal_audit(&f.op, &key).await)
        })
    }),
    ("verify_audit", |f| {
        Box::pin(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let public = hubdeck::service::seal::SealKey::generate(&dir.path().join("k"))?;
            let key = hubdeck::service::seal::public_key(&public)?;
            ok(f.s.verify_audit(&f.op, &key).await)
        })
    }),
    ("list_mandates", |f| {
        Box::pin(async { ok(f.s.list_mandates(&f.op, &q()).await) })
    }),
    ("mandate_filter_values", |f| {
        Box::pin(async { ok(f.s.mandate_filter_values(&f.op, "name", &q()).await) })
    }),
    ("list_deleted_mandates", |f| {
        Box::pin(async { ok(f.s.list_deleted_mandates(&f.op, &q()).await) })
    }),
    ("can_manage_members", |f| {
        Box::pin(async {
            match f.s.can_manage_members(&f.op, f.mandate).await? {
                true => Ok(()),
                false => Err(ServiceError::Denied("may not manage members".into())),
            }
        })
    }),
    ("get_mandate", |f| {
        Box::pin(async { ok(f.s.get_mandate(&f.op, f.mandate).await) })
    }),
    ("create_mandate", |f| {
        Box::pin(async {
            let input = MandateInput {
                name: "new one".into(),
                label: None,
                enabled: true,
            };
            ok(f.s.create_mandate(&f.op, &input, None).await)
        })
    }),
    ("update_mandate", |f| {
        Box::pin(async {
            let input = MandateInput {
                name: "M".into(),
                label: Some("x".into()),
                enabled: true,
            };
            ok(f.s.update_mandate(&f.op, f.mandate, &input).await)
        })
    }),
    ("edit_mandate", |f| {
        Box::pin(async {
            let patch = MandatePatch {
                enabled: Some(false),
                ..Default::default()
            };
            ok(f.s.edit_mandate(&f.op, f.mandate, &patch, None).await)
        })
    }),
    ("soft_delete_mandate", |f| {
        Box::pin(async { ok(f.s.soft_delete_mandate(&f.op, f.mandate).await) })
    }),
    ("soft_delete_mandate_expecting", |f| {
        Box::pin(async {
            ok(f.s
                .soft_delete_mandate_expecting(&f.op, f.mandate, None)
                .await)
        })
    }),
    ("restore_mandate", |f| {
        Box::pin(async { ok(f.s.restore_mandate(&f.op, f.mandate).await) })
    }),
    ("restore_mandate_expecting", |f| {
        Box::pin(async { ok(f.s.restore_mandate_expecting(&f.op, f.mandate, None).await) })
    }),
    ("hard_delete_mandate", |f| {
        Box::pin(async { ok(f.s.hard_delete_mandate(&f.op, f.mandate, "M").await) })
    }),
    ("hard_delete_mandate_expecting", |f| {
        Box::pin(async {
            ok(f.s
                .hard_delete_mandate_expecting(&f.op, f.mandate, "M", None)
                .await)
        })
    }),
    ("purge_mandates", |f| {
        Box::pin(async { ok(f.s.purge_mandates(&f.op, true).await) })
    }),
    ("list_members", |f| {
        Box::pin(async { ok(f.s.list_members(&f.op, f.mandate, &q()).await) })
    }),
    ("member_filter_values", |f| {
        Box::pin(async {
            ok(f.s
                .member_filter_values(&f.op, f.mandate, "email", &q())
                .await)
        })
    }),
    ("mandate_roles", |f| {
        Box::pin(async { ok(f.s.mandate_roles(&f.op, f.mandate).await) })
    }),
    ("resolve_member_roles", |f| {
        Box::pin(async {
            ok(f.s
                .resolve_member_roles(&f.op, f.mandate, &["viewer".into()])
                .await)
        })
    }),
    ("add_member", |f| {
        Box::pin(async {
            let who = MemberRef::parse("boss@hub.example")?;
            ok(f.s.add_member(&f.op, f.mandate, &who, &[]).await)
        })
    }),
    ("remove_member", |f| {
        Box::pin(async { ok(f.s.remove_member(&f.op, f.mandate, f.user).await) })
    }),
    ("set_member_roles", |f| {
        Box::pin(async {
            let r = [MandateRoleId::from(mandate_roles::MEMBER)];
            ok(f.s.set_member_roles(&f.op, f.mandate, f.user, &r).await)
        })
    }),
    ("set_member_enabled", |f| {
        Box::pin(async {
            ok(f.s
                .set_member_enabled(&f.op, f.mandate, f.user, false)
                .await)
        })
    }),
    ("change_member_roles", |f| {
        Box::pin(async {
            let r = [MandateRoleId::from(mandate_roles::MEMBER)];
            ok(f.s
                .change_member_roles(&f.op, f.mandate, f.user, &r, &[], None)
                .await)
        })
    }),
    ("set_member_enabled_expecting", |f| {
        Box::pin(async {
            ok(f.s
                .set_member_enabled_expecting(&f.op, f.mandate, f.user, true, None)
                .await)
        })
    }),
    ("member_role_choices", |f| {
        Box::pin(async {
            ok(f.s
                .member_role_choices(&f.op, f.mandate, Some(f.user))
                .await)
        })
    }),
    ("bulk_preview", |f| {
        Box::pin(async {
            let t = BulkTarget::Matching(q());
            ok(f.s
                .bulk_preview(&f.op, f.mandate, &t, &BulkAction::Disable)
                .await)
        })
    }),
    ("bulk_apply", |f| {
        Box::pin(async {
            let t = BulkTarget::Matching(q());
            ok(f.s
                .bulk_apply(&f.op, f.mandate, &t, &BulkAction::Disable, None)
                .await)
        })
    }),
    ("member_undo_candidate", |f| {
        Box::pin(async { ok(f.s.member_undo_candidate(&f.op, f.mandate, f.user).await) })
    }),
    ("user_undo_candidate", |f| {
        Box::pin(async { ok(f.s.user_undo_candidate(&f.op, f.user).await) })
    }),
    ("undo_preview", |f| {
        Box::pin(async { ok(f.s.undo_preview(&f.op, f.member_change).await) })
    }),
    ("undo", |f| {
        Box::pin(async { ok(f.s.undo(&f.op, f.user_change).await) })
    }),
    ("drift_report", |f| {
        Box::pin(async { ok(f.s.drift_report(&f.op, 10).await) })
    }),
    ("drift_repair_preview", |f| {
        Box::pin(async { ok(f.s.drift_repair_preview(&f.op, f.repair.target).await) })
    }),
    ("apply_drift_repair", |f| {
        Box::pin(async { ok(f.s.apply_drift_repair(&f.op, &f.repair).await) })
    }),
    ("drift_totals", |f| {
        Box::pin(async { ok(f.s.drift_totals(&f.op).await) })
    }),
    ("drift_page", |f| {
        Box::pin(async { ok(f.s.drift_page(&f.op, &q()).await) })
    }),
    ("drift_class_plan", |f| {
        Box::pin(async { ok(f.s.drift_class_plan(&f.op, f.repair.target.class).await) })
    }),
    ("repair_drift_class", |f| {
        Box::pin(async {
            let stop = std::sync::atomic::AtomicBool::new(false);
            let r =
                f.s.repair_drift_class(&f.op, f.repair.target.class, 10, &stop, &|_| {})
                    .await;
            ok(r)
        })
    }),
    ("resolve_user", |f| {
        Box::pin(async { ok(f.s.resolve_user(&f.op, "user@hub.example").await) })
    }),
    ("list_users", |f| {
        Box::pin(async { ok(f.s.list_users(&f.op, &q()).await) })
    }),
    ("user_filter_values", |f| {
        Box::pin(async { ok(f.s.user_filter_values(&f.op, "status", &q()).await) })
    }),
    ("user_detail", |f| {
        Box::pin(async { ok(f.s.user_detail(&f.op, f.user).await) })
    }),
    ("user_roles", |f| {
        Box::pin(async { ok(f.s.user_roles(&f.op, f.user).await) })
    }),
    ("set_roles", |f| {
        Box::pin(async { ok(f.s.set_roles(&f.op, f.user, &[RoleRef::Admin]).await) })
    }),
    ("change_roles", |f| {
        Box::pin(async {
            let edit = RolesEdit::Change {
                add: vec![RoleRef::Admin],
                remove: vec![],
            };
            ok(f.s.change_roles(&f.op, f.user, &edit, None).await)
        })
    }),
    ("set_enabled", |f| {
        Box::pin(async { ok(f.s.set_enabled(&f.op, f.user, false).await) })
    }),
    ("set_enabled_expecting", |f| {
        Box::pin(async { ok(f.s.set_enabled_expecting(&f.op, f.user, false, None).await) })
    }),
    ("edit_profile", |f| {
        Box::pin(async { ok(f.s.edit_profile(&f.op, f.user, "Name", "Org").await) })
    }),
    ("edit_profile_expecting", |f| {
        Box::pin(async {
            ok(f.s
                .edit_profile_expecting(&f.op, f.user, "Name", "Org", None)
                .await)
        })
    }),
    ("resend_invite", |f| {
        Box::pin(async { ok(f.s.resend_invite(&f.op, f.user).await) })
    }),
    ("delete_user", |f| {
        Box::pin(async { ok(f.s.delete_user(&f.op, f.user).await) })
    }),
    ("delete_user_expecting", |f| {
        Box::pin(async { ok(f.s.delete_user_expecting(&f.op, f.user, None).await) })
    }),
    ("confirm_keys_handed_over", |f| {
        Box::pin(async {
            ok(f.s
                .trusts()
                .confirm_keys_handed_over(&f.op, f.trust, chrono::Utc::now(), "reveal")
                .await)
        })
    }),
    ("record_keys_revealed", |f| {
        Box::pin(async {
            ok(f.s
                .trusts()
                .record_keys_revealed(&f.op, f.trust, "TT", chrono::Utc::now())
                .await)
        })
    }),
    ("resolve_mandate_unambiguous", |f| {
        Box::pin(async { ok(f.s.resolve_mandate_unambiguous(&f.op, "M").await) })
    }),
    ("resolve_unambiguous", |f| {
        Box::pin(async { ok(f.s.trusts().resolve_unambiguous(&f.op, "TT").await) })
    }),
    ("sync_all_as", |f| {
        Box::pin(async {
            ok(hubdeck::service::directory_sync::sync_all_as(
                f.s.directory.as_ref(),
                &f.s.db,
                &f.op,
                &mut |_| {},
            )
            .await)
        })
    }),
    ("sync_directory", |f| {
        Box::pin(async { ok(f.s.sync_directory(&f.op, &mut |_| {}).await) })
    }),
    ("export_to_file", |f| {
        Box::pin(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("audit.csv");
            ok(f.s
                .export_to_file(&f.op, &q(), TimeRange::default(), ExportFormat::Csv, &path)
                .await)
        })
    }),
    ("export_to_file_with", |f| {
        Box::pin(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("audit.json");
            let (r, fmt) = (TimeRange::default(), ExportFormat::Json);
            ok(f.s
                .export_to_file_with(&f.op, &q(), r, fmt, &path, &mut |_| {})
                .await)
        })
    }),
    ("list_audit", |f| {
        Box::pin(async { ok(f.s.list_audit(&f.op, &q(), TimeRange::default()).await) })
    }),
    ("audit_filter_values", |f| {
        Box::pin(async {
            ok(f.s
                .audit_filter_values(&f.op, "source", &q(), TimeRange::default())
                .await)
        })
    }),
    ("export_audit", |f| {
        Box::pin(async {
            let mut out = Vec::new();
            ok(f.s
                .export_audit(
                    &f.op,
                    &q(),
                    TimeRange::default(),
                    ExportFormat::Csv,
                    &mut out,
                )
                .await)
        })
    }),
    ("export_audit_with", |f| {
        Box::pin(async {
            let mut out = Vec::new();
            let (r, fmt) = (TimeRange::default(), ExportFormat::Json);
            ok(f.s
                .export_audit_with(&f.op, &q(), r, fmt, &mut out, &mut |_| {})
                .await)
        })
    }),
    ("list_audit_readable", |f| {
        Box::pin(async {
            ok(f.s
                .list_audit_readable(&f.op, &q(), TimeRange::default())
                .await)
        })
    }),
    ("audit_detail", |f| {
        Box::pin(async { ok(f.s.audit_detail(&f.op, f.user_change).await) })
    }),
    ("plan_catalogue", |f| {
        Box::pin(async { ok(f.s.plan_catalogue(&f.op).await) })
    }),
    ("mandate_overview", |f| {
        Box::pin(async { ok(f.s.mandate_overview(&f.op, f.mandate).await) })
    }),
    ("change_plan", |f| {
        Box::pin(async { ok(f.s.change_plan(&f.op, f.mandate, "TEAM", None).await) })
    }),
    ("register_user", |f| {
        Box::pin(async {
            let req = RegisterRequest {
                email: "new@hub.example".into(),
                name: "New".into(),
                organisation: "Org".into(),
                roles: vec![RoleRef::Admin],
                suppress_invite: true,
            };
            ok(f.s.register_user(&f.op, &req).await)
        })
    }),
    ("stuck_registrations", |f| {
        Box::pin(async { ok(f.s.stuck_registrations(&f.op).await) })
    }),
    ("list_stuck_page", |f| {
        Box::pin(async { ok(f.s.list_stuck_page(&f.op, &q()).await) })
    }),
    ("registration", |f| {
        Box::pin(async { ok(f.s.registration(&f.op, f.registration).await) })
    }),
    ("registration_detail", |f| {
        Box::pin(async { ok(f.s.registration_detail(&f.op, f.registration).await) })
    }),
    ("retry_registration", |f| {
        Box::pin(async { ok(f.s.retry_registration(&f.op, f.registration).await) })
    }),
    ("retry_registration_expecting", |f| {
        Box::pin(async {
            ok(f.s
                .retry_registration_expecting(&f.op, f.registration, None)
                .await)
        })
    }),
    ("reconcile_pending", |f| {
        Box::pin(async { ok(f.s.reconcile_pending(&f.op, 0).await) })
    }),
    ("rollback_registration", |f| {
        Box::pin(async { ok(f.s.rollback_registration(&f.op, f.registration).await) })
    }),
    ("rollback_registration_expecting", |f| {
        Box::pin(async {
            ok(f.s
                .rollback_registration_expecting(&f.op, f.registration, None)
                .await)
        })
    }),
    ("resolve_registration", |f| {
        Box::pin(async { ok(f.s.resolve_registration(&f.op, f.registration, "n").await) })
    }),
    ("resolve_registration_expecting", |f| {
        Box::pin(async {
            ok(f.s
                .resolve_registration_expecting(&f.op, f.registration, "n", None)
                .await)
        })
    }),
    ("rotate_trust_internal_key", |f| {
        Box::pin(async { ok(f.s.rotate_trust_internal_key(&f.op, f.trust, None).await) })
    }),
    ("trust_detail", |f| {
        Box::pin(async { ok(f.s.trust_detail(&f.op, f.trust).await) })
    }),
    ("register_trust", |f| {
        Box::pin(async { ok(f.s.register_trust(&f.op, "New trust", "NEWT", None).await) })
    }),
    ("rotate_trust_keys", |f| {
        Box::pin(async { ok(f.s.rotate_trust_keys(&f.op, f.trust, true, None).await) })
    }),
    ("delete_trust", |f| {
        Box::pin(async { ok(f.s.delete_trust(&f.op, f.trust, None).await) })
    }),
    ("list_trusts", |f| {
        Box::pin(async { ok(f.s.list_trusts(&f.op, &q()).await) })
    }),
    ("trust_filter_values", |f| {
        Box::pin(async { ok(f.s.trust_filter_values(&f.op, "region", &q()).await) })
    }),
    ("list_kit_slots", |f| {
        Box::pin(async { ok(f.s.list_kit_slots(&f.op, &q()).await) })
    }),
    ("kit_usage", |f| {
        Box::pin(async { ok(f.s.kit_usage(&f.op).await) })
    }),
    ("get_trust", |f| {
        Box::pin(async { ok(f.s.get_trust(&f.op, f.trust).await) })
    }),
    ("remove_member_expecting", |f| {
        Box::pin(async {
            ok(f.s
                .remove_member_expecting(&f.op, f.mandate, f.user, None)
                .await)
        })
    }),
    ("preview_change", |f| {
        Box::pin(async { ok(f.s.preview_change(&f.op, &delete_user(f)).await) })
    }),
    ("propose_change", |f| {
        Box::pin(async {
            ok(f.s
                .propose_change(&f.op, &delete_user(f), "why", None)
                .await)
        })
    }),
    ("list_changes", |f| {
        Box::pin(async { ok(f.s.list_changes(&f.op, true).await) })
    }),
    ("count_proposed_changes", |f| {
        Box::pin(async { ok(f.s.count_proposed_changes(&f.op).await) })
    }),
    ("show_change", |f| {
        Box::pin(async { ok(f.s.show_change(&f.op, f.change).await) })
    }),
    ("approve_change", |f| {
        Box::pin(async { ok(f.s.approve_change(&f.op, f.change).await) })
    }),
    ("reject_change", |f| {
        Box::pin(async { ok(f.s.reject_change(&f.op, f.change, "no").await) })
    }),
    ("seal_badge", |f| {
        Box::pin(async { ok(f.s.seal_badge(&f.op, false).await) })
    }),
    ("complete_change", |f| {
        Box::pin(async { ok(f.s.complete_change(&f.op, f.change).await) })
    }),
];

fn delete_user(f: &Fx) -> hubdeck::domain::approval::ChangeRequest {
    hubdeck::domain::approval::ChangeRequest::UserDelete { user: f.user }
}

/// Public async functions that are not an operator's use case, and why.
const NOT_USE_CASES: &[&str] = &[
    // The authority check itself and signing in (no operator yet).
    "load_operator",
    "fresh_authority",
    "authorize",
    "sign_in",
    "complete_new_password",
    "begin_sign_in",
    "answer_new_password",
    "answer_mfa_code",
    "start_mfa_setup",
    "finish_mfa_setup",
    // The CLI's sign-in session (`hubdeck login`): it makes the operator, it has none yet.
    "open_cli_session",
    "actor_for",
    "close",
    // Start-up, schema and health (no operator involved).
    "connect",
    "on_pool",
    "migrate",
    "diagnose",
    "probe",
    // Infrastructure runs (deploy, `hubdeck directory sync`), no operator.
    "seed_users",
    "sync_all",
    // The live view's poll: it reads no rows of its own, only which changed. It re-reads the
    // operator's authority on every poll (a disabled or deleted operator is refused; a demoted
    // one is told only what they may still read) — and the refusals of the reads it triggers
    // are the ones listed here.
    "poll_changes",
    // Housekeeping of the two-person rule: marks lapsed proposals expired, as the system.
    "expire_due",
    // A directory lookup of a member reference, done before a use case that checks authority.
    "resolve_member",
    // Store-level helpers of the trusts module taking a connection, not an actor.
    "register",
    "rotate_keys",
    "delete",
    "list",
    "filter_values",
    "get",
    "find_by_name",
    "resolve",
    "rotate_internal_key",
    "detail",
];

#[test]
fn every_pub_use_case_is_listed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/service");
    let mut found = BTreeSet::new();
    // Every .rs file under src/service, folders (registration/, health/) included.
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("pub async fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.insert(name);
            }
        }
    }
    let listed: BTreeSet<String> = USE_CASES
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(NOT_USE_CASES.iter().map(|n| n.to_string()))
        .collect();
    let missing: Vec<&String> = found.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "public use cases missing from tests/it/use_cases.rs USE_CASES (run them against a \
         demoted, disabled and deleted operator): {missing:?}"
    );
    let stale: Vec<&String> = listed.difference(&found).collect();
    assert!(
        stale.is_empty(),
        "listed but no longer in src/service: {stale:?}"
    );
}

/// The fixture, with the operator under test signed in as a global ADMIN.
async fn fixture(db: &TestDb) -> Fx {
    let s = services(db).await;
    let boss_sub = seed_identity(&s, "boss@hub.example", None, Some(RoleRef::Admin)).await;
    let boss = Actor::Operator(
        hubdeck::service::actor::load_operator(&db.pool, boss_sub, "boss@hub.example")
            .await
            .unwrap(),
    );
    let op_sub = seed_identity(&s, "op@hub.example", None, Some(RoleRef::Admin)).await;
    let op = Actor::Operator(
        hubdeck::service::actor::load_operator(&db.pool, op_sub, "op@hub.example")
            .await
            .unwrap(),
    );
    let user = seed_identity(&s, "user@hub.example", None, Some(RoleRef::Viewer)).await;
    let mandate = MandateId(seed_mandate(db, "M", boss_sub).await);
    crate::mandates::raw_member(&db.pool, mandate, user, &[mandate_roles::VIEWER]).await;
    s.set_member_enabled(&boss, mandate, user, false)
        .await
        .unwrap();
    s.set_roles(&boss, user, &[RoleRef::Researcher])
        .await
        .unwrap();
    let member_change: Uuid = sqlx::query_scalar(
        "SELECT id FROM mandate_audit WHERE target_user_id = $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(user)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let user_change: Uuid = sqlx::query_scalar(
        "SELECT id FROM users_audit WHERE user_id = $1 AND action = 'Updated user roles' \
         ORDER BY \"timestamp\" DESC LIMIT 1",
    )
    .bind(user)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // A grant whose identity the directory does not have: a drift row to repair.
    let orphan = UserSub::new_v4();
    crate::mandates::grant(&db.pool, orphan, RoleRef::Viewer).await;
    let repair = s
        .drift_repair_preview(
            &boss,
            DriftTarget {
                class: DriftClass::OrphanGrants,
                id: orphan.0,
            },
        )
        .await
        .unwrap();
    let trust = s
        .register_trust(&boss, "T", "TT", None)
        .await
        .expect("register trust")
        .trust
        .id;
    let registration: Uuid = sqlx::query_scalar(
        "INSERT INTO registration (email, name, organisation, state, last_error) \
         VALUES ('stuck@hub.example', 'Stuck', 'Org', 'roles_pending', 'x') RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let change = s
        .propose_change(
            &boss,
            &hubdeck::domain::approval::ChangeRequest::UserDelete { user },
            "left",
            None,
        )
        .await
        .unwrap()
        .id;
    Fx {
        s,
        op,
        mandate,
        user,
        member_change,
        user_change,
        repair,
        trust,
        registration: RegistrationId(registration),
        change,
    }
}

#[derive(Clone, Copy, Debug)]
enum Lost {
    Demoted,
    Disabled,
    Deleted,
}

async fn every_use_case_refuses(lost: Lost) {
    let db = fresh_db().await;
    let f = fixture(&db).await;
    let sub = f.op.audit_sub().unwrap();
    let revoke = "DELETE FROM user_role WHERE user_id = $1";
    let sql: &[&str] = match lost {
        Lost::Demoted => &[revoke],
        Lost::Disabled => &["UPDATE directory_user SET enabled = false WHERE sub = $1"],
        Lost::Deleted => &[
            revoke,
            "UPDATE directory_user SET gone_at = now() WHERE sub = $1",
        ],
    };
    for q in sql {
        sqlx::query(*q).bind(sub).execute(&db.pool).await.unwrap();
    }
    let mut allowed = Vec::new();
    for (name, run) in USE_CASES {
        match run(&f).await {
            Err(ServiceError::Denied(_) | ServiceError::OperatorRevoked(_)) => {}
            other => allowed.push(format!("{name}: {other:?}")),
        }
    }
    assert!(
        allowed.is_empty(),
        "use cases not refused to a {lost:?} operator:\n{}",
        allowed.join("\n")
    );
}

#[tokio::test]
async fn a_demoted_operator_is_refused_every_use_case() {
    every_use_case_refuses(Lost::Demoted).await;
}

#[tokio::test]
async fn a_disabled_operator_is_refused_every_use_case() {
    every_use_case_refuses(Lost::Disabled).await;
}

#[tokio::test]
async fn a_deleted_operator_is_refused_every_use_case() {
    every_use_case_refuses(Lost::Deleted).await;
}
