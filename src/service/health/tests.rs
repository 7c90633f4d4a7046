//! The doctor report's pure checks.

use super::*;
use crate::directory::diagnose::CognitoFacts;
use crate::store::health::AppliedMigration;
use chrono::Utc;

fn applied(v: &[i64]) -> Vec<AppliedMigration> {
    crate::MIGRATOR
        .iter()
        .filter(|m| v.contains(&m.version))
        .map(|m| AppliedMigration {
            version: m.version,
            success: true,
            checksum: m.checksum.to_vec(),
        })
        .collect()
}

#[test]
fn migrations_pending_changed_dirty_and_newer() {
    let all: Vec<i64> = crate::MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(migration_check(&applied(&all)).status, Status::Pass);
    let last = *all.last().unwrap_or(&0);
    let c = migration_check(&applied(&all[..all.len() - 1]));
    assert_eq!(c.status, Status::Fail);
    assert!(c.detail.contains(&last.to_string()), "{c:?}");
    assert!(
        c.remedy
            .as_deref()
            .unwrap_or("")
            .contains("hubdeck migrate")
    );
    assert_eq!(migration_check(&[]).status, Status::Fail);

    let mut dirty = applied(&all);
    dirty[0].success = false;
    assert!(migration_check(&dirty).detail.contains("dirty"));
    let mut changed = applied(&all);
    changed[0].checksum = vec![0; 4];
    assert!(migration_check(&changed).detail.contains("differ"));
    let mut newer = applied(&all);
    newer.push(AppliedMigration {
        version: 99_999_999,
        success: true,
        checksum: vec![],
    });
    assert_eq!(migration_check(&newer).status, Status::Warn);
}

#[test]
fn terminal_lines() {
    let mut c = Vec::new();
    terminal_checks(&TerminalFacts::default(), &mut c);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status, Status::Skip);

    let mut c = Vec::new();
    let t = TerminalFacts {
        is_terminal: true,
        size: Some((70, 20)),
        term: "tmux-256color".into(),
        in_tmux: true,
        tmux_set_clipboard: Some("off".into()),
        ..Default::default()
    };
    terminal_checks(&t, &mut c);
    let get = |id: &str| c.iter().find(|x| x.id == id).map(|x| x.status);
    assert_eq!(get("terminal.size"), Some(Status::Warn));
    assert_eq!(get("terminal.colours"), Some(Status::Pass));
    assert_eq!(get("terminal.clipboard"), Some(Status::Warn));
    assert_eq!(get("terminal.paste"), Some(Status::Pass));
    let clip = c.iter().find(|x| x.id == "terminal.clipboard");
    assert!(
        clip.and_then(|x| x.remedy.as_deref())
            .unwrap_or("")
            .contains("set-clipboard on")
    );
}

#[test]
fn mfa_and_auth_flow_lines() {
    use crate::directory::diagnose::{ClientFacts, PoolFacts};
    let mut s = Settings::default();
    s.directory.client_id = "abc".into();
    let facts = |mfa: &str, flows: &[&str]| CognitoFacts {
        credentials: Ok("access key …TEST".into()),
        pool: Some(Ok(PoolFacts {
            name: "p".into(),
            mfa: mfa.into(),
            estimated_users: 3,
            registration_marker: true,
            clock: None,
        })),
        client: Some(Ok(ClientFacts {
            name: "c".into(),
            explicit_auth_flows: flows.iter().map(|f| f.to_string()).collect(),
        })),
    };
    let status = |f: &CognitoFacts, id: &str| {
        let mut c = Vec::new();
        cognito_checks(&s, f, &mut c);
        c.into_iter().find(|x| x.id == id).map(|x| x.status)
    };
    let good = facts("OFF", &["ALLOW_ADMIN_USER_PASSWORD_AUTH"]);
    assert_eq!(status(&good, "directory.client"), Some(Status::Pass));
    assert_eq!(status(&good, "directory.mfa"), Some(Status::Pass));
    let bad = facts("ON", &["ALLOW_REFRESH_TOKEN_AUTH"]);
    assert_eq!(status(&bad, "directory.client"), Some(Status::Fail));
    assert_eq!(status(&bad, "directory.mfa"), Some(Status::Pass));
    assert_eq!(
        status(&facts("OPTIONAL", &[]), "directory.mfa"),
        Some(Status::Pass)
    );
    assert_eq!(
        status(&facts("SOMETHING_NEW", &[]), "directory.mfa"),
        Some(Status::Warn)
    );
    assert_eq!(status(&good, "clock.directory"), Some(Status::Skip));
    let now = Utc::now();
    let skew = |s: i64| directory_clock_check(now + chrono::Duration::seconds(s), now).status;
    assert_eq!(skew(1), Status::Pass);
    assert_eq!(skew(-90), Status::Warn);
    assert_eq!(skew(300), Status::Fail);
}
