//! The database lines of the doctor report: reachability, server version, clock, migrations.

use super::{Check, MIN_SERVER_VERSION_NUM, SKEW_FAIL, SKEW_WARN};
use std::time::Duration;

use chrono::Utc;

use crate::config::Settings;
use crate::store::health::{AppliedMigration, applied_migrations, clock, server_version};

pub(super) async fn database_checks(
    s: &Settings,
    checks: &mut Vec<Check>,
) -> Option<crate::store::Db> {
    let url = s.database.url.redacted();
    let mut db_settings = s.database.clone();
    db_settings.max_connections = 2;
    db_settings.connect_timeout_secs = db_settings.connect_timeout_secs.clamp(1, 10);
    let db = match crate::store::connect(&db_settings).await {
        Ok(db) => db,
        Err(e) => {
            checks.push(Check::fail(
                "database",
                format!("cannot connect to {url}: {e}"),
                "start PostgreSQL or correct database.url (HUBDECK_DATABASE__URL, --database-url, \
                 or the environment's [env.NAME.database]); for the demo: hubdeck demo --no-console",
            ));
            let mut refused = crate::service::pooler::startup_refused(s, &e.to_string());
            for id in [
                "database.version",
                "database.migrations",
                "clock.database",
                "kit_slots",
                "database.pooler",
                "trusts.keys",
                "audit.seal",
            ] {
                match refused.take() {
                    Some(c) if id == c.id => checks.push(c),
                    other => {
                        refused = other;
                        checks.push(Check::skip(id, "needs the database"));
                    }
                }
            }
            return None;
        }
    };
    checks.push(Check::pass("database", format!("connected to {url}")));

    match server_version(&db).await {
        Ok((v, n)) if n >= MIN_SERVER_VERSION_NUM => {
            checks.push(Check::pass("database.version", format!("PostgreSQL {v}")))
        }
        Ok((v, _)) => checks.push(Check::fail(
            "database.version",
            format!("PostgreSQL {v} is older than 14"),
            "upgrade the server to PostgreSQL 14 or newer",
        )),
        Err(e) => checks.push(Check::fail(
            "database.version",
            format!("cannot read the server version: {e}"),
            "check that the database user may run SELECT current_setting(...)",
        )),
    }

    match applied_migrations(&db).await {
        Ok(applied) => checks.push(migration_check(&applied)),
        Err(e) => checks.push(Check::fail(
            "database.migrations",
            format!("cannot read _sqlx_migrations: {e}"),
            "grant the database user SELECT on _sqlx_migrations, or run hubdeck migrate",
        )),
    }

    // Host vs database clock: the host's time is taken on both sides of the query and the
    // database's compared with the midpoint.
    let before = Utc::now();
    match clock(&db).await {
        Ok(db_now) => {
            let after = Utc::now();
            let mid = before + (after - before) / 2;
            let skew = (db_now - mid).abs();
            let skew_std = skew.to_std().unwrap_or(Duration::MAX);
            let detail = format!(
                "database clock {} host by {:.3} s",
                if db_now >= mid { "ahead of" } else { "behind" },
                skew.num_milliseconds() as f64 / 1000.0
            );
            let remedy = "synchronise the clocks (chrony/systemd-timesyncd on this host and the \
                          database server); audit times and the `older than a minute` rule use \
                          the database's clock";
            checks.push(if skew_std >= SKEW_FAIL {
                Check::fail("clock.database", detail, remedy)
            } else if skew_std >= SKEW_WARN {
                Check::warn("clock.database", detail, remedy)
            } else {
                Check::pass("clock.database", detail)
            });
        }
        Err(e) => checks.push(Check::fail(
            "clock.database",
            format!("cannot read the database clock: {e}"),
            "check the database connection",
        )),
    }

    match crate::store::trusts::slot_counts(&db).await {
        Ok((free, assigned)) => {
            let configured = s.trusts.kit_slot_names.len();
            let detail = format!(
                "{free} free, {assigned} assigned ({configured} names in trusts.kit_slot_names)"
            );
            // register-trust adds configured names missing from the pool before giving up.
            let addable = configured.saturating_sub((free + assigned).max(0) as usize);
            checks.push(if free == 0 && addable == 0 {
                Check::warn(
                    "kit_slots",
                    detail,
                    "no FL kit slot is free: the next register-trust fails; pre-provision kits \
                     and add their names to trusts.kit_slot_names",
                )
            } else {
                Check::pass("kit_slots", detail)
            });
        }
        Err(e) => checks.push(Check::skip(
            "kit_slots",
            format!("cannot count the slot pool: {e}"),
        )),
    }
    checks.push(crate::service::pooler::pooler_check(s, &db).await);
    checks.push(crate::service::trust_keys::unconfirmed_keys_check(&db).await);
    checks.push(crate::service::seal::seal_check(s, &db).await);
    Some(db)
}

/// Compares the migrations this binary embeds with those the database recorded.
pub fn migration_check(applied: &[AppliedMigration]) -> Check {
    let known: Vec<(i64, &[u8], String)> = crate::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| (m.version, m.checksum.as_ref(), m.description.to_string()))
        .collect();
    let failed: Vec<i64> = applied
        .iter()
        .filter(|a| !a.success)
        .map(|a| a.version)
        .collect();
    if !failed.is_empty() {
        return Check::fail(
            "database.migrations",
            format!("migration(s) {failed:?} failed part-way (marked dirty)"),
            "repair the schema by hand, delete the dirty row from _sqlx_migrations, then run \
             hubdeck migrate",
        );
    }
    let changed: Vec<i64> = known
        .iter()
        .filter(|(v, sum, _)| {
            applied
                .iter()
                .any(|a| a.version == *v && a.checksum.as_slice() != *sum)
        })
        .map(|(v, _, _)| *v)
        .collect();
    if !changed.is_empty() {
        return Check::fail(
            "database.migrations",
            format!("applied migration(s) {changed:?} differ from this binary's"),
            "use the hubdeck build that applied them; migrations are never edited once applied",
        );
    }
    let pending: Vec<String> = known
        .iter()
        .filter(|(v, _, _)| !applied.iter().any(|a| a.version == *v))
        .map(|(v, _, d)| format!("{v} {d}"))
        .collect();
    if !pending.is_empty() {
        return Check::fail(
            "database.migrations",
            format!(
                "{} of {} migrations pending: {}",
                pending.len(),
                known.len(),
                pending.join(", ")
            ),
            "run hubdeck migrate (with the same --env / --database-url)",
        );
    }
    let unknown = applied
        .iter()
        .filter(|a| !known.iter().any(|(v, _, _)| *v == a.version))
        .count();
    if unknown > 0 {
        return Check::warn(
            "database.migrations",
            format!(
                "all {} applied; the database also has {unknown} migration(s) this binary does not know",
                known.len()
            ),
            "a newer hubdeck migrated this database: upgrade this binary",
        );
    }
    Check::pass(
        "database.migrations",
        format!("all {} migrations applied", known.len()),
    )
}
