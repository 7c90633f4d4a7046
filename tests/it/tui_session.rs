//! Operator sign-in through the service layer (LocalDirectory on a real PostgreSQL).

use hubdeck::directory::{Invite, NewIdentity};
use hubdeck::domain::{Email, PermissionRef, RoleRef, Secret};
use hubdeck::service::ServiceError;
use hubdeck::service::session::SignInOutcome;

use crate::support::pg::fresh_db;
use crate::tui_e2e::{seed_identity, services};

#[tokio::test]
async fn sign_in_loads_permissions_and_refuses_wrong_passwords() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let sub = seed_identity(
        &s,
        "admin@hub.example",
        Some("Right-password-1"),
        Some(RoleRef::Admin),
    )
    .await;
    seed_identity(
        &s,
        "viewer@hub.example",
        Some("Right-password-2"),
        Some(RoleRef::Viewer),
    )
    .await;

    match s
        .sign_in("admin@hub.example", &Secret::new("Right-password-1"))
        .await
    {
        Ok(SignInOutcome::SignedIn(op)) => {
            assert_eq!(op.sub, sub);
            assert!(op.permissions.contains(&PermissionRef::CanAccessAdminPanel));
            assert!(op.permissions.contains(&PermissionRef::CanManageUsers));
        }
        other => panic!("expected a signed-in operator, got {other:?}"),
    }
    match s
        .sign_in("viewer@hub.example", &Secret::new("Right-password-2"))
        .await
    {
        Ok(SignInOutcome::SignedIn(op)) => assert!(op.permissions.is_empty()),
        other => panic!("{other:?}"),
    }
    let wrong = s.sign_in("admin@hub.example", &Secret::new("wrong")).await;
    assert!(
        matches!(wrong, Err(ServiceError::Directory(_))),
        "{wrong:?}"
    );
    let unknown = s.sign_in("nobody@hub.example", &Secret::new("x")).await;
    assert!(unknown.is_err());
    let invalid = s.sign_in("not an email", &Secret::new("x")).await;
    assert!(
        matches!(invalid, Err(ServiceError::Invalid(_))),
        "{invalid:?}"
    );
}

#[tokio::test]
async fn new_password_challenge_completes_sign_in() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let ident = s
        .directory
        .create_user(&NewIdentity {
            email: Email::parse("new@hub.example").expect("email"),
            email_verified: true,
            invite: Invite::Suppress,
            temporary_password: Some(Secret::new("Temporary-Pass-1")),
        })
        .await
        .expect("identity");
    let ch = match s
        .sign_in("new@hub.example", &Secret::new("Temporary-Pass-1"))
        .await
    {
        Ok(SignInOutcome::NewPasswordRequired(ch)) => ch,
        other => panic!("expected the new-password challenge, got {other:?}"),
    };
    let short = s.complete_new_password(&ch, &Secret::new("short")).await;
    assert!(short.is_err());
    let op = s
        .complete_new_password(&ch, &Secret::new("A-brand-new-password-9"))
        .await
        .expect("challenge answered");
    assert_eq!(op.sub, ident.sub);
    match s
        .sign_in("new@hub.example", &Secret::new("A-brand-new-password-9"))
        .await
    {
        Ok(SignInOutcome::SignedIn(op)) => assert_eq!(op.sub, ident.sub),
        other => panic!("{other:?}"),
    }
}
