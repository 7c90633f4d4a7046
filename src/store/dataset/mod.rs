//! The demo / benchmark dataset generator: plausible mandates, directory users, memberships,
//! trusts, kit slots, registrations and audit history, generated with set-based SQL
//! (`INSERT ... SELECT ... FROM generate_series`) in ONE transaction.
//!
//! Deterministic from the seed: every value is derived from the row number and the seed
//! (`hashint8extended`, `md5`), never from `random()`. The only random values are the trusts'
//! API keys, of which only the SHA-256 hash is stored (nobody ever sees the plaintext).
//!
//! A marker row (`demo_dataset`) records the spec's hash; [`ensure`] re-uses an unchanged
//! dataset and refuses to generate into a database that already holds other data.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use sqlx::postgres::PgConnection;

mod history;
mod people;
mod tenancy;
mod words;

pub use words::{BIG_MANDATE_NAME, TRUSTS};

use history::{audit, registrations, trusts};
use people::{demo_admin, grants, users};
use tenancy::{mandates, memberships, subscriptions};

use super::{StoreError, StoreResult};

/// What to generate. Counts are exact except memberships (derived per mandate from the seed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetSpec {
    pub seed: i64,
    /// Mandates besides the big one (some disabled, some soft-deleted).
    pub mandates: u32,
    /// Directory users with profiles (plus the demo admin and a few registrations).
    pub users: u32,
    /// Members of the one big mandate ("National Imaging Federation"); at most `users`.
    pub big_mandate_members: u32,
    /// Each ordinary mandate gets 1–2 admins plus 0..=this many further members.
    pub max_extra_members: u32,
    /// Trusts (at most 30: one per entry of the built-in NHS list).
    pub trusts: u32,
    /// Unassigned FL kit slots on top of one slot per trust.
    pub free_slots: u32,
}

/// The dataset recipe: the seed and the named scales (`assets/demo_dataset.toml`).
pub const RECIPE: &str = include_str!("../../../assets/demo_dataset.toml");

#[derive(serde::Deserialize)]
struct Recipe {
    seed: i64,
    scale: std::collections::BTreeMap<String, ScaleRecipe>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleRecipe {
    mandates: u32,
    users: u32,
    big_mandate_members: u32,
    max_extra_members: u32,
    trusts: u32,
    free_slots: u32,
}

impl DatasetSpec {
    /// A scale of the recipe: `small`, `demo` (also the empty name) or `bench`.
    pub fn named(name: &str) -> Option<Self> {
        let recipe: Recipe = toml::from_str(RECIPE).ok()?;
        let key = match name.trim().to_ascii_lowercase().as_str() {
            "" => "demo".to_string(),
            "large" => "bench".to_string(),
            other => other.to_string(),
        };
        let s = recipe.scale.get(&key)?;
        Some(Self {
            seed: recipe.seed,
            mandates: s.mandates,
            users: s.users,
            big_mandate_members: s.big_mandate_members,
            max_extra_members: s.max_extra_members,
            trusts: s.trusts,
            free_slots: s.free_slots,
        })
    }

    fn named_or_empty(name: &str) -> Self {
        Self::named(name).unwrap_or(Self {
            seed: 0,
            mandates: 0,
            users: 0,
            big_mandate_members: 0,
            max_extra_members: 0,
            trusts: 0,
            free_slots: 0,
        })
    }

    /// `hubdeck demo`: thousands of mandates, tens of thousands of users.
    pub fn demo() -> Self {
        Self::named_or_empty("demo")
    }

    /// Small and CI-fast (tests, the tmux end-to-end test).
    pub fn small() -> Self {
        Self::named_or_empty("small")
    }

    /// The benchmark scale: a million mandates, every page budget measured against it.
    pub fn bench() -> Self {
        Self::named_or_empty("bench")
    }

    /// A stable hash of the spec and of the generator's version.
    pub fn hash(&self) -> String {
        let text = format!(
            "v{GENERATOR_VERSION}:{}:{}:{}:{}:{}:{}:{}",
            self.seed,
            self.mandates,
            self.users,
            self.big_mandate_members,
            self.max_extra_members,
            self.trusts,
            self.free_slots
        );
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    fn big_members(&self) -> u32 {
        self.big_mandate_members.min(self.users)
    }
}

/// Bump when the generated data changes shape, so stale benchmark datasets are rebuilt.
const GENERATOR_VERSION: u32 = 1;

/// The demo operator, created with the ADMIN global role. The password hash is an argon2 PHC
/// string made by the caller (the directory owns hashing); the plaintext never reaches here.
#[derive(Clone, Debug)]
pub struct DemoAdmin {
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

/// The sub of the demo admin (fixed, so audit rows can name it).
pub const DEMO_ADMIN_SUB: uuid::Uuid = uuid::uuid!("5e1f0000-de70-4000-8000-000000000001");

/// Progress of [`generate`]: step `step` of `total` is starting.
#[derive(Clone, Copy, Debug)]
pub struct ProgressEvent {
    pub step: usize,
    pub total: usize,
    pub what: &'static str,
}

pub type Progress<'a> = &'a (dyn Fn(ProgressEvent) + Sync);

/// What [`ensure`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Generated,
    Reused,
}

/// Row counts of a generated dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DatasetCounts {
    pub mandates: i64,
    pub live_mandates: i64,
    pub disabled_mandates: i64,
    pub deleted_mandates: i64,
    pub users: i64,
    pub profiles: i64,
    pub grants: i64,
    pub memberships: i64,
    pub big_mandate_members: i64,
    pub trusts: i64,
    pub slots: i64,
    pub free_slots: i64,
    pub registrations: i64,
    pub stuck_registrations: i64,
    pub audit_rows: i64,
}

/// The spec hash recorded in the database, if it holds a generated dataset.
pub async fn current_hash(pool: &PgPool) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT spec_hash FROM demo_dataset WHERE singleton")
            .fetch_optional(pool)
            .await?,
    )
}

/// Generates the dataset unless the database already holds exactly this one.
/// Refuses (without changing anything) when it holds other data: a different dataset, or
/// mandates / users that were not generated.
pub async fn ensure(
    pool: &PgPool,
    spec: &DatasetSpec,
    admin: Option<&DemoAdmin>,
    progress: Progress<'_>,
) -> StoreResult<Outcome> {
    match current_hash(pool).await? {
        Some(h) if h == spec.hash() => Ok(Outcome::Reused),
        Some(_) => Err(StoreError::Unavailable(
            "the database holds a different generated dataset; start from an empty database \
             (hubdeck demo --fresh)"
                .into(),
        )),
        None => {
            generate(pool, spec, admin, progress).await?;
            Ok(Outcome::Generated)
        }
    }
}

const STEPS: usize = 9;

/// Generates the dataset into an empty, migrated database, in one transaction.
pub async fn generate(
    pool: &PgPool,
    spec: &DatasetSpec,
    admin: Option<&DemoAdmin>,
    progress: Progress<'_>,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let occupied: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mandate) OR EXISTS (SELECT 1 FROM local_identity)
             OR EXISTS (SELECT 1 FROM directory_user) OR EXISTS (SELECT 1 FROM trust)
             OR EXISTS (SELECT 1 FROM demo_dataset)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if occupied {
        return Err(StoreError::Unavailable(
            "refusing to generate demo data into a database that already holds data".into(),
        ));
    }
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
        .execute(&mut *tx)
        .await?;
    let mut step = 0;
    let mut report = |what: &'static str| {
        step += 1;
        progress(ProgressEvent {
            step,
            total: STEPS,
            what,
        });
    };

    // Bulk load: the non-unique indexes (sort keys, trigram GINs) are dropped for the load and
    // built again at the end, in this transaction — one sorted build each instead of millions
    // of index inserts (a GIN fed row by row wrote over 100 GB of WAL at the bench scale).
    // Unique indexes stay: they back the primary keys, ON CONFLICT and the foreign keys.
    let deferred = defer_indexes(&mut tx).await?;

    report("users and profiles");
    users(&mut tx, spec).await?;
    report("global role grants");
    grants(&mut tx, spec).await?;
    if let Some(a) = admin {
        demo_admin(&mut tx, a).await?;
    }
    report("mandates");
    mandates(&mut tx, spec).await?;
    report("subscriptions and billing");
    subscriptions(&mut tx, spec).await?;
    report("memberships");
    memberships(&mut tx, spec).await?;
    report("trusts and kit slots");
    trusts(&mut tx, spec).await?;
    report("registrations");
    registrations(&mut tx, spec).await?;
    report("audit history");
    audit(&mut tx, spec).await?;
    report("statistics");
    for (_, def) in deferred {
        // The catalogue's own definition of an index this function dropped.
        sqlx::query(sqlx::AssertSqlSafe(def))
            .execute(&mut *tx)
            .await?;
    }
    let spec_json = serde_json::to_value(spec).unwrap_or_default();
    sqlx::query("INSERT INTO demo_dataset (spec_hash, spec) VALUES ($1, $2)")
        .bind(spec.hash())
        .bind(spec_json)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // Planner statistics, so the first queries after generation already use the indexes, and
    // the visibility map, so index-only scans (keyset pages, counts) skip the heap — the state
    // a production database reaches under autovacuum.
    sqlx::query("VACUUM (ANALYZE)").execute(pool).await?;
    Ok(())
}

/// Drops every non-unique index of the schema's tables (the database is empty: checked above)
/// and returns their names and definitions, to be built again after the load.
async fn defer_indexes(tx: &mut PgConnection) -> StoreResult<Vec<(String, String)>> {
    let defs: Vec<(String, String)> = sqlx::query_as(
        "SELECT format('%I.%I', n.nspname, ic.relname), pg_get_indexdef(i.indexrelid)
           FROM pg_index i
           JOIN pg_class ic ON ic.oid = i.indexrelid
           JOIN pg_class t ON t.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = current_schema() AND NOT i.indisunique AND NOT i.indisprimary
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
          ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (name, _) in &defs {
        // `name` is quoted by format('%I.%I') from the catalogue.
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&mut *tx)
            .await?;
    }
    Ok(defs)
}

// Every value below is a function of (seed, row number): h(n, salt) = hashint8extended(n, seed + salt).
// Picks: `1 + (h & 2147483647) % cardinality(list)`.

pub async fn counts(pool: &PgPool) -> StoreResult<DatasetCounts> {
    Ok(sqlx::query_as(
        "SELECT
           (SELECT count(*) FROM mandate) AS mandates,
           (SELECT count(*) FROM mandate WHERE deleted_at IS NULL) AS live_mandates,
           (SELECT count(*) FROM mandate WHERE NOT enabled AND deleted_at IS NULL) AS disabled_mandates,
           (SELECT count(*) FROM mandate WHERE deleted_at IS NOT NULL) AS deleted_mandates,
           (SELECT count(*) FROM directory_user) AS users,
           (SELECT count(*) FROM user_profile) AS profiles,
           (SELECT count(*) FROM user_role) AS grants,
           (SELECT count(*) FROM user_mandate) AS memberships,
           (SELECT count(*) FROM user_mandate um JOIN mandate m ON m.id = um.mandate_id
              WHERE m.name = $1) AS big_mandate_members,
           (SELECT count(*) FROM trust) AS trusts,
           (SELECT count(*) FROM fl_kit_slot) AS slots,
           (SELECT count(*) FROM fl_kit_slot WHERE assigned_to_trust_id IS NULL) AS free_slots,
           (SELECT count(*) FROM registration) AS registrations,
           (SELECT count(*) FROM registration WHERE state IN ('roles_pending', 'needs_cleanup')) AS stuck_registrations,
           (SELECT count(*) FROM mandate_audit) + (SELECT count(*) FROM users_audit)
             + (SELECT count(*) FROM trusts_audit) AS audit_rows",
    )
    .bind(BIG_MANDATE_NAME)
    .fetch_one(pool)
    .await?)
}

/// Creates database `name` on the server `server` is connected to, unless it exists.
/// `name` must be a plain lower-case identifier (it cannot be a bind parameter).
pub async fn create_database_if_missing(server: &PgPool, name: &str) -> StoreResult<bool> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(StoreError::Unavailable(format!(
            "invalid database name {:?}",
            crate::domain::DisplayText::new(name).into_string()
        )));
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(server)
            .await?;
    if exists {
        return Ok(false);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(server)
        .await?;
    Ok(true)
}

/// Drops database `name` if it exists (benchmarks rebuild a stale dataset this way).
pub async fn drop_database_if_exists(server: &PgPool, name: &str) -> StoreResult<()> {
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(StoreError::Unavailable("invalid database name".into()));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(server)
    .await?;
    Ok(())
}

/// The id of the big mandate.
pub async fn big_mandate_id(pool: &PgPool) -> StoreResult<Option<uuid::Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM mandate WHERE name = $1 ORDER BY id LIMIT 1")
            .bind(BIG_MANDATE_NAME)
            .fetch_optional(pool)
            .await?,
    )
}

/// A digest of the generated content that must not depend on when it was generated:
/// mandates (id, name, label, state), users (sub, email, name), memberships and their roles.
pub async fn fingerprint(pool: &PgPool) -> StoreResult<String> {
    Ok(sqlx::query_scalar(
        "SELECT md5(
           (SELECT coalesce(string_agg(id::text || name || coalesce(label, '') || enabled::text
                                       || coalesce(deleted_at::text, ''), ',' ORDER BY id), '') FROM mandate)
           || (SELECT coalesce(string_agg(d.sub::text || d.email || p.name || p.organisation, ',' ORDER BY d.sub), '')
               FROM directory_user d LEFT JOIN user_profile p ON p.user_id = d.sub)
           || (SELECT coalesce(string_agg(um.id::text || umr.mandate_role_id::text, ',' ORDER BY um.id, umr.mandate_role_id), '')
               FROM user_mandate um JOIN user_mandate_role umr ON umr.user_mandate_id = um.id)
           || (SELECT coalesce(string_agg(user_id::text || role_id::text, ',' ORDER BY user_id, role_id), '') FROM user_role))",
    )
    .fetch_one(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_names_every_scale() {
        for name in ["small", "demo", "bench", ""] {
            let s = DatasetSpec::named(name).expect("scale in assets/demo_dataset.toml");
            assert!(
                s.mandates > 0 && s.users > 0 && s.trusts > 0,
                "{name}: {s:?}"
            );
        }
        assert_eq!(DatasetSpec::bench().mandates, 1_000_000);
        assert!(DatasetSpec::named("huge").is_none());
    }

    #[test]
    fn spec_hash_changes_with_the_spec() {
        let a = DatasetSpec::small();
        let mut b = a.clone();
        b.seed += 1;
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash(), DatasetSpec::small().hash());
    }
}
