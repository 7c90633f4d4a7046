//! LocalDirectory on real PostgreSQL: every trait method, duplicates, not-found, disabled-user
//! authentication and the new-password challenge.

use hubdeck::directory::local::LocalDirectory;
use hubdeck::directory::{
    AuthOutcome, Directory, DirectoryError, IdentityStatus, Invite, NewIdentity, UserKey,
};
use hubdeck::domain::{Email, Secret};

use crate::support::pg;

fn new(email: &str, pw: Option<&str>) -> NewIdentity {
    NewIdentity {
        email: Email::parse(email).unwrap(),
        email_verified: true,
        invite: Invite::Email,
        temporary_password: pw.map(Secret::new),
    }
}

#[tokio::test]
async fn local_directory_contract() {
    let db = pg::fresh_db().await;
    let d = LocalDirectory::new(db.pool.clone());
    assert_eq!(d.kind(), "local");
    d.health().await.unwrap();

    let ann = d
        .create_user(&new("Ann@Example.org", Some("Temp0rary!")))
        .await
        .unwrap();
    assert_eq!(ann.sub.0.get_version_num(), 4);
    assert_eq!(ann.username, "Ann@example.org");
    assert_eq!(ann.status, IdentityStatus::ForceChangePassword);
    assert!(ann.enabled);

    // Duplicate email, case-insensitively.
    let dup = d
        .create_user(&new("ann@EXAMPLE.org", None))
        .await
        .unwrap_err();
    assert!(matches!(dup, DirectoryError::AlreadyExists(_)), "{dup}");
    assert!(!dup.is_transient());

    // Reads.
    let by_email = d
        .get_user(&UserKey::Email(Email::parse("ann@example.org").unwrap()))
        .await
        .unwrap();
    assert_eq!(by_email.sub, ann.sub);
    assert_eq!(
        d.get_user(&UserKey::Username(ann.username.clone()))
            .await
            .unwrap()
            .sub,
        ann.sub
    );
    assert_eq!(d.find_by_sub(ann.sub).await.unwrap().email, ann.email);
    let missing = d
        .get_user(&UserKey::Username("nobody@example.org".into()))
        .await
        .unwrap_err();
    assert!(matches!(missing, DirectoryError::NotFound(_)));
    assert!(matches!(
        d.find_by_sub(hubdeck::domain::UserSub::new_v4())
            .await
            .unwrap_err(),
        DirectoryError::NotFound(_)
    ));

    // Temporary password → NEW_PASSWORD_REQUIRED → answer it → CONFIRMED → plain sign-in.
    let email = Email::parse("ann@example.org").unwrap();
    let wrong = d
        .authenticate(&email, &Secret::new("nope"))
        .await
        .unwrap_err();
    assert!(matches!(wrong, DirectoryError::NotAuthorized(_)));
    let challenge = match d
        .authenticate(&email, &Secret::new("Temp0rary!"))
        .await
        .unwrap()
    {
        AuthOutcome::NewPasswordRequired(c) => c,
        other => panic!("expected a challenge, got {other:?}"),
    };
    let weak = d
        .respond_new_password(&challenge, &Secret::new("short"))
        .await
        .unwrap_err();
    assert!(matches!(weak, DirectoryError::InvalidInput(_)));
    match d
        .respond_new_password(&challenge, &Secret::new("N3w-password"))
        .await
        .unwrap()
    {
        AuthOutcome::Authenticated { sub } => assert_eq!(sub, ann.sub),
        other => panic!("expected signed in, got {other:?}"),
    }
    // A challenge is single-use.
    assert!(matches!(
        d.respond_new_password(&challenge, &Secret::new("N3w-password2"))
            .await
            .unwrap_err(),
        DirectoryError::NotAuthorized(_)
    ));
    assert_eq!(
        d.find_by_sub(ann.sub).await.unwrap().status,
        IdentityStatus::Confirmed
    );
    match d
        .authenticate(&email, &Secret::new("N3w-password"))
        .await
        .unwrap()
    {
        AuthOutcome::Authenticated { sub } => assert_eq!(sub, ann.sub),
        other => panic!("{other:?}"),
    }
    // Resending an invitation to a confirmed user is refused.
    assert!(matches!(
        d.resend_invite(&ann.username).await.unwrap_err(),
        DirectoryError::Rejected(_)
    ));

    // Disabled users cannot sign in, even with the right password.
    d.set_enabled(&ann.username, false).await.unwrap();
    assert!(!d.find_by_sub(ann.sub).await.unwrap().enabled);
    let disabled = d
        .authenticate(&email, &Secret::new("N3w-password"))
        .await
        .unwrap_err();
    assert!(disabled.to_string().contains("disabled"), "{disabled}");
    d.set_enabled(&ann.username, true).await.unwrap();
    assert!(matches!(
        d.set_enabled("ghost@example.org", true).await.unwrap_err(),
        DirectoryError::NotFound(_)
    ));

    // set_password: permanent → CONFIRMED; temporary → FORCE_CHANGE_PASSWORD.
    d.set_password(&ann.username, &Secret::new("Perm4nent-pw"), false)
        .await
        .unwrap();
    assert_eq!(
        d.find_by_sub(ann.sub).await.unwrap().status,
        IdentityStatus::ForceChangePassword
    );
    d.set_password(&ann.username, &Secret::new("Perm4nent-pw"), true)
        .await
        .unwrap();
    assert!(matches!(
        d.authenticate(&email, &Secret::new("Perm4nent-pw"))
            .await
            .unwrap(),
        AuthOutcome::Authenticated { .. }
    ));

    // Resend for a user who has not signed in records an invitation.
    let bob = d.create_user(&new("bob@example.org", None)).await.unwrap();
    d.resend_invite(&bob.username).await.unwrap();
    let invites = hubdeck::store::local_directory::invitation_count(&db.pool, bob.sub)
        .await
        .unwrap();
    assert_eq!(invites, 2, "INVITE + RESEND");

    // Delete, then not found; deleting again is NotFound.
    d.delete_user(&bob.username).await.unwrap();
    assert!(matches!(
        d.find_by_sub(bob.sub).await.unwrap_err(),
        DirectoryError::NotFound(_)
    ));
    assert!(matches!(
        d.delete_user(&bob.username).await.unwrap_err(),
        DirectoryError::NotFound(_)
    ));
}

#[tokio::test]
async fn local_directory_pages_through_everything() {
    let db = pg::fresh_db().await;
    let d = LocalDirectory::new(db.pool.clone());
    // Insert 130 identities directly (hashing 130 passwords would only slow the test down).
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, status) \
         SELECT gen_random_uuid(), 'u' || g || '@example.org', 'u' || g || '@example.org', 'CONFIRMED' FROM generate_series(1, 130) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = d.list_page(cursor.as_deref()).await.unwrap();
        assert!(page.identities.len() <= 60);
        pages += 1;
        for i in page.identities {
            assert!(seen.insert(i.sub), "duplicate across pages");
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 130);
    assert_eq!(pages, 3);
}
