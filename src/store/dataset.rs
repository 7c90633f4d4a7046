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

use super::{StoreError, StoreResult};
use crate::domain::RoleRef;
use crate::domain::roles::mandate_roles;

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
pub const RECIPE: &str = include_str!("../../assets/demo_dataset.toml");

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

    /// The benchmark scale of SPEC §8.
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

const BASE_TIME: &str = "2026-11-20 09:00:00+00";

const FIRST_NAMES: &[&str] = &[
    "Amelia",
    "Oliver",
    "Priya",
    "James",
    "Fatima",
    "George",
    "Chloe",
    "Mohammed",
    "Isla",
    "Harry",
    "Aisha",
    "Thomas",
    "Grace",
    "Arjun",
    "Emily",
    "William",
    "Zara",
    "Jack",
    "Sophie",
    "Daniel",
    "Hannah",
    "Samuel",
    "Olivia",
    "Kwame",
    "Ruth",
    "Ethan",
    "Niamh",
    "Callum",
    "Mei",
    "Lucas",
    "Freya",
    "Rhys",
    "Imogen",
    "Tomasz",
    "Leah",
    "Owen",
    "Anika",
    "Joseph",
    "Eleanor",
    "Adebayo",
    "Rosie",
    "Matthew",
    "Yasmin",
    "Finlay",
    "Catherine",
    "Ravi",
    "Alice",
    "Benjamin",
    "Siobhan",
    "Hassan",
    "Lily",
    "Patrick",
    "Ines",
    "Dylan",
    "Martha",
    "Kofi",
    "Evie",
    "Nathan",
    "Farah",
    "Gareth",
];

const LAST_NAMES: &[&str] = &[
    "Smith", "Patel", "Jones", "Khan", "Williams", "Taylor", "Brown", "Ahmed", "Davies", "Evans",
    "Wilson", "Thomas", "Roberts", "Singh", "Johnson", "Walker", "Wright", "Robinson", "Thompson",
    "White", "Hughes", "Edwards", "Green", "Hall", "Wood", "Harris", "Lewis", "Martin", "Jackson",
    "Clarke", "Clark", "Turner", "Hill", "Scott", "Cooper", "Morris", "Ward", "Moore", "King",
    "Watson", "Baker", "Harrison", "Morgan", "Okafor", "Nowak", "Kaur", "Begum", "Murphy",
    "O'Brien", "Campbell", "Kelly", "Mensah", "Chen", "Ali", "Shah", "Fraser", "Reid", "Lloyd",
    "Price", "Bennett",
];

/// (organisation, email domain). Domains are under the reserved `.example` TLD.
const ORGANISATIONS: &[(&str, &str)] = &[
    ("University of Leeds", "leeds-uni.example"),
    ("University of Oxford", "oxford-uni.example"),
    ("King's College London", "kcl.example"),
    ("Imperial College London", "imperial.example"),
    ("University College London", "ucl.example"),
    ("University of Manchester", "manchester-uni.example"),
    ("University of Cambridge", "cambridge-uni.example"),
    ("University of Birmingham", "bham.example"),
    ("University of Sheffield", "sheffield-uni.example"),
    ("Newcastle University", "ncl.example"),
    ("University of Bristol", "bristol-uni.example"),
    ("University of Nottingham", "nottingham-uni.example"),
    ("Guy's and St Thomas' NHS Foundation Trust", "gstt.example"),
    ("Leeds Teaching Hospitals NHS Trust", "lth.example"),
    ("Manchester University NHS Foundation Trust", "mft.example"),
    (
        "Oxford University Hospitals NHS Foundation Trust",
        "ouh.example",
    ),
    ("NHS England", "nhs-england.example"),
    ("Health Data Research UK", "hdruk.example"),
    ("The Alan Turing Institute", "turing.example"),
    (
        "Cambridge University Hospitals NHS Foundation Trust",
        "cuh.example",
    ),
    (
        "University Hospitals Birmingham NHS Foundation Trust",
        "uhb.example",
    ),
    ("North Bristol NHS Trust", "nbt.example"),
];

const PLACES: &[&str] = &[
    "Leeds",
    "Sheffield",
    "Manchester",
    "Liverpool",
    "Newcastle",
    "York",
    "Bristol",
    "Oxford",
    "Cambridge",
    "Nottingham",
    "Leicester",
    "Birmingham",
    "Coventry",
    "Norwich",
    "Exeter",
    "Plymouth",
    "Southampton",
    "Brighton",
    "Kent",
    "Surrey",
    "Sussex",
    "Cornwall",
    "Devon",
    "Dorset",
    "Bath",
    "Gloucester",
    "Hereford",
    "Worcester",
    "Stoke",
    "Derby",
    "Lincoln",
    "Hull",
    "Bradford",
    "Wakefield",
    "Durham",
    "Sunderland",
    "Carlisle",
    "Lancaster",
    "Preston",
    "Blackpool",
    "Bolton",
    "Wigan",
    "Chester",
    "Shrewsbury",
    "Ipswich",
    "Colchester",
    "Luton",
    "Reading",
    "Swindon",
    "Salisbury",
    "Winchester",
    "Portsmouth",
    "Canterbury",
    "Maidstone",
    "Camden",
    "Islington",
    "Hackney",
    "Lambeth",
    "Greenwich",
    "Croydon",
    "Barnet",
    "Ealing",
    "Harrow",
    "Hounslow",
];

const SPECIALTIES: &[&str] = &[
    "Cardiology",
    "Oncology",
    "Radiology",
    "Neurology",
    "Paediatrics",
    "Dermatology",
    "Ophthalmology",
    "Pathology",
    "Nephrology",
    "Haematology",
    "Respiratory",
    "Stroke",
    "Maternity",
    "Orthopaedics",
    "Gastroenterology",
    "Endocrinology",
    "Rheumatology",
    "Urology",
    "Critical Care",
    "Emergency Medicine",
    "Mental Health",
    "Genomics",
    "Diabetes",
    "Imaging",
];

const KINDS: &[&str] = &[
    "Research Group",
    "Imaging Network",
    "Data Collaborative",
    "Study Unit",
    "AI Lab",
    "Consortium",
    "Registry",
    "Trials Unit",
    "Analytics Hub",
    "Working Group",
];

const LABELS: &[&str] = &[
    "research",
    "pilot",
    "production",
    "evaluation",
    "teaching",
    "audit",
];

/// (name, code, NHS region) — thirty English NHS trusts across the seven regions.
pub const TRUSTS: &[(&str, &str, &str)] = &[
    (
        "Guy's and St Thomas' NHS Foundation Trust",
        "GSTT",
        "London",
    ),
    (
        "King's College Hospital NHS Foundation Trust",
        "KCH",
        "London",
    ),
    ("Imperial College Healthcare NHS Trust", "ICHT", "London"),
    (
        "University College London Hospitals NHS Foundation Trust",
        "UCLH",
        "London",
    ),
    ("Barts Health NHS Trust", "BARTS", "London"),
    (
        "Oxford University Hospitals NHS Foundation Trust",
        "OUH",
        "South East",
    ),
    (
        "University Hospital Southampton NHS Foundation Trust",
        "UHS",
        "South East",
    ),
    ("Royal Surrey NHS Foundation Trust", "RSFT", "South East"),
    (
        "East Kent Hospitals University NHS Foundation Trust",
        "EKHUFT",
        "South East",
    ),
    ("North Bristol NHS Trust", "NBT", "South West"),
    (
        "Royal Devon University Healthcare NHS Foundation Trust",
        "RDUH",
        "South West",
    ),
    (
        "University Hospitals Plymouth NHS Trust",
        "UHP",
        "South West",
    ),
    ("Royal Cornwall Hospitals NHS Trust", "RCHT", "South West"),
    (
        "University Hospitals Birmingham NHS Foundation Trust",
        "UHB",
        "Midlands",
    ),
    (
        "Nottingham University Hospitals NHS Trust",
        "NUH",
        "Midlands",
    ),
    (
        "University Hospitals of Leicester NHS Trust",
        "UHL",
        "Midlands",
    ),
    (
        "University Hospitals Coventry and Warwickshire NHS Trust",
        "UHCW",
        "Midlands",
    ),
    (
        "Cambridge University Hospitals NHS Foundation Trust",
        "CUH",
        "East of England",
    ),
    (
        "Norfolk and Norwich University Hospitals NHS Foundation Trust",
        "NNUH",
        "East of England",
    ),
    (
        "East Suffolk and North Essex NHS Foundation Trust",
        "ESNEFT",
        "East of England",
    ),
    (
        "Royal Papworth Hospital NHS Foundation Trust",
        "RPH",
        "East of England",
    ),
    (
        "Manchester University NHS Foundation Trust",
        "MFT",
        "North West",
    ),
    (
        "Liverpool University Hospitals NHS Foundation Trust",
        "LUHFT",
        "North West",
    ),
    (
        "Lancashire Teaching Hospitals NHS Foundation Trust",
        "LTHTR",
        "North West",
    ),
    (
        "The Christie NHS Foundation Trust",
        "CHRISTIE",
        "North West",
    ),
    (
        "Leeds Teaching Hospitals NHS Trust",
        "LTHT",
        "North East and Yorkshire",
    ),
    (
        "Sheffield Teaching Hospitals NHS Foundation Trust",
        "STH",
        "North East and Yorkshire",
    ),
    (
        "The Newcastle upon Tyne Hospitals NHS Foundation Trust",
        "NUTH",
        "North East and Yorkshire",
    ),
    (
        "Hull University Teaching Hospitals NHS Trust",
        "HUTH",
        "North East and Yorkshire",
    ),
    (
        "South Tees Hospitals NHS Foundation Trust",
        "STEES",
        "North East and Yorkshire",
    ),
];

/// The one big mandate's name.
pub const BIG_MANDATE_NAME: &str = "National Imaging Federation";

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

async fn users(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    let orgs: Vec<String> = ORGANISATIONS.iter().map(|o| o.0.to_string()).collect();
    let domains: Vec<String> = ORGANISATIONS.iter().map(|o| o.1.to_string()).collect();
    let combos = (FIRST_NAMES.len() * LAST_NAMES.len()) as i64;
    // A bijection n -> (first, last) within each block of `combos` rows (7919 is prime and
    // coprime to the block size), so emails are unique; later blocks get a number suffix.
    sqlx::query(
        "CREATE TEMP TABLE gen_user ON COMMIT DROP AS
         SELECT n, sub, first || ' ' || last AS name, org, status, enabled, role_pick, created,
                regexp_replace(lower(first), '[^a-z]', '', 'g') || '.' ||
                regexp_replace(lower(last), '[^a-z]', '', 'g') ||
                CASE WHEN blk > 0 THEN (blk + 1)::text ELSE '' END || '@' || domain AS email
         FROM (
           SELECT n,
                  md5($1::bigint || ':u:' || n)::uuid AS sub,
                  ($2::text[])[1 + (idx % cardinality($2::text[]))] AS first,
                  ($3::text[])[1 + (idx / cardinality($2::text[]))] AS last,
                  (n - 1) / $6::bigint AS blk,
                  ($4::text[])[o] AS org,
                  ($5::text[])[o] AS domain,
                  CASE WHEN r < 7 THEN 'FORCE_CHANGE_PASSWORD' ELSE 'CONFIRMED' END AS status,
                  NOT (r BETWEEN 7 AND 9) AS enabled,
                  role_pick,
                  $8::timestamptz - make_interval(secs => (hashint8extended(n, $1 + 4) & 2147483647) % (730 * 86400)) AS created
           FROM (
             SELECT n,
                    ((n - 1) * 7919 + $1) % $6::bigint AS idx,
                    1 + (hashint8extended(n, $1 + 1) & 2147483647) % cardinality($4::text[]) AS o,
                    (hashint8extended(n, $1 + 2) & 2147483647) % 100 AS r,
                    (hashint8extended(n, $1 + 3) & 2147483647) % 100 AS role_pick
             FROM generate_series(1::bigint, $7::bigint) AS n
           ) a
         ) b",
    )
    .bind(spec.seed)
    .bind(strs(FIRST_NAMES))
    .bind(strs(LAST_NAMES))
    .bind(orgs)
    .bind(domains)
    .bind(combos)
    .bind(i64::from(spec.users))
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, email_verified, enabled, status, password_hash, created_at, updated_at)
         SELECT sub, email, email, status = 'CONFIRMED', enabled, status, NULL, created, created FROM gen_user",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at, updated_at)
         SELECT sub, email, email, enabled, status, $1::timestamptz, created, created FROM gen_user",
    )
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation, created_at, updated_at)
         SELECT sub, name, org, created, created FROM gen_user",
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn grants(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    // 3% Admin, 30% Researcher (a tenth of them also Viewer), 50% Viewer, the rest none.
    sqlx::query(
        "INSERT INTO user_role (id, user_id, role_id, created_at)
         SELECT md5($1::bigint || ':ur:' || n || ':' || g.role_id)::uuid, sub, g.role_id, created
         FROM gen_user
         CROSS JOIN LATERAL (
             SELECT $2::uuid AS role_id WHERE role_pick < 3
             UNION ALL SELECT $3::uuid WHERE role_pick >= 3 AND role_pick < 33
             UNION ALL SELECT $4::uuid WHERE role_pick >= 30 AND role_pick < 83
         ) g",
    )
    .bind(spec.seed)
    .bind(RoleRef::Admin.id())
    .bind(RoleRef::Researcher.id())
    .bind(RoleRef::Viewer.id())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn demo_admin(tx: &mut PgConnection, a: &DemoAdmin) -> StoreResult<()> {
    let sub = DEMO_ADMIN_SUB;
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, email_verified, enabled, status, password_hash, created_at, updated_at)
         VALUES ($1, $2, $2, true, true, 'CONFIRMED', $3, $4::timestamptz, $4::timestamptz)",
    )
    .bind(sub)
    .bind(&a.email)
    .bind(&a.password_hash)
    .bind("2024-11-01 09:00:00+00")
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at, updated_at)
         VALUES ($1, $2, $2, true, 'CONFIRMED', $3::timestamptz, $3::timestamptz, $3::timestamptz)",
    )
    .bind(sub)
    .bind(&a.email)
    .bind("2024-11-01 09:00:00+00")
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation) VALUES ($1, $2, 'hubdeck demo')",
    )
    .bind(sub)
    .bind(&a.name)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(sub)
        .bind(RoleRef::Admin.id())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn mandates(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    let combos = (PLACES.len() * SPECIALTIES.len() * KINDS.len()) as i64;
    // n = 0 is the big mandate; 1..=mandates the ordinary ones. The name is a bijection of n
    // within each block of `combos` rows (7919 is prime), later blocks get a number suffix.
    sqlx::query(
        "CREATE TEMP TABLE gen_mandate ON COMMIT DROP AS
         SELECT n, md5($1::bigint || ':m:' || n)::uuid AS id,
                CASE WHEN n = 0 THEN $9 ELSE
                  ($2::text[])[1 + idx % cardinality($2::text[])] || ' ' ||
                  ($3::text[])[1 + (idx / cardinality($2::text[])) % cardinality($3::text[])] || ' ' ||
                  ($4::text[])[1 + idx / (cardinality($2::text[]) * cardinality($3::text[]))] ||
                  CASE WHEN (n - 1) / $6::bigint > 0 THEN ' ' || ((n - 1) / $6::bigint + 1) ELSE '' END
                END AS name,
                'research-office@' || lower(($2::text[])[1 + idx % cardinality($2::text[])]) || '.example' AS billing_email,
                CASE WHEN n = 0 THEN 'production'
                     WHEN lp < 10 THEN NULL
                     ELSE ($5::text[])[1 + lp % cardinality($5::text[])] END AS label,
                n = 0 OR d >= 7 AS enabled,
                CASE WHEN n > 0 AND d < 2 THEN $8::timestamptz - make_interval(days => (d * 7 + (lp % 7))::int) END AS deleted_at,
                CASE WHEN n = 0 THEN 'ENTERPRISE'
                     WHEN p < 20 THEN 'TRIAL_14D' WHEN p < 60 THEN 'STARTER'
                     WHEN p < 90 THEN 'TEAM' ELSE 'ENTERPRISE' END AS plan_key,
                p,
                CASE WHEN n = 0 THEN 2 ELSE 1 + (hashint8extended(n, $1 + 14) & 2147483647) % 2 END AS admins,
                CASE WHEN n = 0 THEN $10::bigint - 2
                     ELSE (hashint8extended(n, $1 + 15) & 2147483647) % ($11::bigint + 1) END AS extras,
                (hashint8extended(n, $1 + 18) & 2147483647) AS user_base,
                $8::timestamptz - make_interval(secs => CASE WHEN n = 0 THEN 1000 * 86400 ELSE
                    (hashint8extended(n, $1 + 16) & 2147483647) % (3 * 365 * 86400) END) AS created
         FROM (
           SELECT n,
                  ((n - 1) * 7919 + $1) % $6::bigint AS idx,
                  (hashint8extended(n, $1 + 11) & 2147483647) % 100 AS lp,
                  (hashint8extended(n, $1 + 12) & 2147483647) % 100 AS d,
                  (hashint8extended(n, $1 + 13) & 2147483647) % 100 AS p
           FROM generate_series(0::bigint, $7::bigint) AS n
         ) a",
    )
    .bind(spec.seed)
    .bind(strs(PLACES))
    .bind(strs(SPECIALTIES))
    .bind(strs(KINDS))
    .bind(strs(LABELS))
    .bind(combos)
    .bind(i64::from(spec.mandates))
    .bind(BASE_TIME)
    .bind(BIG_MANDATE_NAME)
    .bind(i64::from(spec.big_members().max(2)))
    .bind(i64::from(spec.max_extra_members))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO mandate (id, name, label, enabled, deleted_at, created_at, updated_at, plan_key)
         SELECT id, name, label, enabled, deleted_at, created,
                greatest(created, coalesce(deleted_at, created)),
                CASE WHEN deleted_at IS NULL THEN plan_key END
         FROM gen_mandate ORDER BY n",
    )
    .execute(&mut *tx)
    .await?;
    // Mandate-specific roles: a "data steward" role on every 50th mandate, and a
    // feature-instance role (excluded from member lists) on every 97th.
    sqlx::query(
        "INSERT INTO mandate_role (id, label, description, mandate_id, feature_instance_id, created_at, updated_at)
         SELECT md5($1::bigint || ':mr:' || n)::uuid, 'data steward',
                'Approves data access requests for this mandate', id, NULL::uuid, created, created
         FROM gen_mandate WHERE n > 0 AND n % 50 = 0
         UNION ALL
         SELECT md5($1::bigint || ':fr:' || n)::uuid, 'project lead',
                'Leads one federated training project', id, md5($1::bigint || ':fi:' || n)::uuid, created, created
         FROM gen_mandate WHERE n > 0 AND n % 97 = 0",
    )
    .bind(spec.seed)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn subscriptions(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO mandate_billing_settings (mandate_id, billing_email, currency, created_at, updated_at)
         SELECT id, billing_email, CASE WHEN p % 10 = 0 THEN 'EUR' ELSE 'GBP' END, created, created
         FROM gen_mandate",
    )
    .execute(&mut *tx)
    .await?;
    // The live subscription's plan is already on each mandate row (written with it, see
    // `mandates`): the row trigger of migration 1100 that keeps it there would update every
    // mandate once more (all its indexes, trigram ones included), so it is off for this one
    // insert, in this transaction.
    sqlx::query("ALTER TABLE mandate_subscription DISABLE TRIGGER mandate_subscription_plan_key")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO mandate_subscription (id, mandate_id, plan_key, status, recurring, started_at,
                                           current_period_start, current_period_end, trial_ends_at,
                                           created_at, updated_at)
         SELECT md5($1::bigint || ':s:' || n)::uuid, id, plan_key,
                CASE WHEN deleted_at IS NOT NULL THEN 'canceled'
                     WHEN plan_key = 'TRIAL_14D' THEN 'trialing'
                     WHEN p % 20 = 7 THEN 'past_due'
                     ELSE 'active' END,
                plan_key <> 'TRIAL_14D',
                created,
                $2::timestamptz - make_interval(days => (p % 30)::int),
                $2::timestamptz - make_interval(days => (p % 30)::int) + interval '30 days',
                CASE WHEN plan_key = 'TRIAL_14D' THEN created + interval '14 days' END,
                created, created
         FROM gen_mandate",
    )
    .bind(spec.seed)
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query("ALTER TABLE mandate_subscription ENABLE TRIGGER mandate_subscription_plan_key")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn memberships(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    if spec.users == 0 {
        return Ok(());
    }
    // Member j of mandate n is user 1 + (base + j * 7919) mod users: distinct for every j of a
    // mandate (7919 is prime), spread over all users. The first `admins` members are admins
    // (always enabled); 3% of the others are disabled; a fifth of them are viewers.
    sqlx::query(
        "CREATE TEMP TABLE gen_member ON COMMIT DROP AS
         SELECT md5($1::bigint || ':um:' || m.n || ':' || j)::uuid AS id,
                md5($1::bigint || ':u:' || (1 + (m.user_base + j * 7919) % $2::bigint))::uuid AS user_id,
                m.id AS mandate_id, m.n, j,
                j < m.admins AS is_admin,
                j < m.admins OR (hashint8extended(m.n * 1000003 + j, $1 + 17) & 2147483647) % 100 >= 3 AS enabled,
                (hashint8extended(m.n * 1000003 + j, $1 + 19) & 2147483647) % 100 AS r,
                m.created + make_interval(mins => j::int) AS created
         FROM gen_mandate m
         CROSS JOIN LATERAL generate_series(0::bigint, m.admins + m.extras - 1) AS j",
    )
    .bind(spec.seed)
    .bind(i64::from(spec.users))
    .execute(&mut *tx)
    .await?;
    // The roles of each generated membership, then (from them) the labels and the admin flag
    // that migrations 0410/0910 keep on the membership: written with the row itself, so no
    // index of user_mandate (13 of them, two of them trigram GINs) is touched twice. The
    // statement trigger that would recompute them after the role insert is off for that one
    // insert, in this transaction (an UPDATE of every membership wrote hundreds of GB at the
    // bench scale).
    sqlx::query(
        "CREATE TEMP TABLE gen_member_role ON COMMIT DROP AS
         SELECT g.id AS user_mandate_id,
                CASE WHEN g.is_admin THEN $2::uuid WHEN g.r < 20 THEN $4::uuid ELSE $3::uuid END AS mandate_role_id,
                g.created
         FROM gen_member g
         UNION ALL
         SELECT g.id, md5($1::bigint || ':mr:' || g.n)::uuid, g.created
         FROM gen_member g
         WHERE g.n > 0 AND g.n % 50 = 0 AND g.j IN (0, 2)
         UNION ALL
         SELECT g.id, md5($1::bigint || ':fr:' || g.n)::uuid, g.created
         FROM gen_member g
         WHERE g.n > 0 AND g.n % 97 = 0 AND g.j = 0",
    )
    .bind(spec.seed)
    .bind(mandate_roles::ADMIN)
    .bind(mandate_roles::MEMBER)
    .bind(mandate_roles::VIEWER)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_mandate (id, user_id, mandate_id, enabled, created_at, updated_at,
                                   role_labels, member_admin)
         SELECT g.id, g.user_id, g.mandate_id, g.enabled, g.created, g.created,
                COALESCE(l.labels, ''), COALESCE(l.admin, false)
         FROM gen_member g
         LEFT JOIN (SELECT gr.user_mandate_id AS id,
                           string_agg(DISTINCT r.label, ' ' ORDER BY r.label) AS labels,
                           bool_or(r.label = 'admin'
                                   AND (r.mandate_id IS NULL OR r.mandate_id = gm.mandate_id)) AS admin
                      FROM gen_member_role gr
                      JOIN gen_member gm ON gm.id = gr.user_mandate_id
                      JOIN mandate_role r ON r.id = gr.mandate_role_id
                                         AND r.feature_instance_id IS NULL
                     GROUP BY gr.user_mandate_id) l ON l.id = g.id
         ON CONFLICT DO NOTHING",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("ALTER TABLE user_mandate_role DISABLE TRIGGER user_mandate_role_labels_insert")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id, created_at)
         SELECT gr.user_mandate_id, gr.mandate_role_id, gr.created
         FROM gen_member_role gr JOIN user_mandate um ON um.id = gr.user_mandate_id",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("ALTER TABLE user_mandate_role ENABLE TRIGGER user_mandate_role_labels_insert")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn trusts(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    let n = (spec.trusts as usize).min(TRUSTS.len());
    let names: Vec<String> = TRUSTS[..n].iter().map(|t| t.0.to_string()).collect();
    let codes: Vec<String> = TRUSTS[..n].iter().map(|t| t.1.to_string()).collect();
    let regions: Vec<String> = TRUSTS[..n].iter().map(|t| t.2.to_string()).collect();
    // Hashes of random keys that nobody ever sees: the demo trusts cannot authenticate until
    // an operator rotates their key.
    let hashes: Vec<String> = (0..n)
        .map(|_| {
            let key: [u8; 32] = rand::random();
            hex::encode(Sha256::digest(key))
        })
        .collect();
    sqlx::query(
        "INSERT INTO trust (id, name, code, region, api_key_hash, last_heartbeat, created_at, updated_at)
         SELECT md5($1::bigint || ':t:' || i)::uuid, name, code, region, hash,
                CASE WHEN i % 5 = 0 THEN NULL ELSE $6::timestamptz - make_interval(mins => (i * 7)::int) END,
                $6::timestamptz - make_interval(days => (400 - i * 11)::int),
                $6::timestamptz - make_interval(days => (400 - i * 11)::int)
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(name, code, region, hash, i)",
    )
    .bind(spec.seed)
    .bind(names)
    .bind(codes)
    .bind(regions)
    .bind(hashes)
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO fl_kit_slot (slot_name, slot_number, assigned_to_trust_id, assigned_at, created_at)
         SELECT 'Trust_' || lpad(s::text, 3, '0'), s,
                CASE WHEN s <= $2 THEN md5($1::bigint || ':t:' || s)::uuid END,
                CASE WHEN s <= $2 THEN $4::timestamptz - make_interval(days => (400 - s * 11)::int) END,
                $4::timestamptz - interval '420 days'
         FROM generate_series(1::bigint, $2::bigint + $3::bigint) AS s",
    )
    .bind(spec.seed)
    .bind(n as i64)
    .bind(i64::from(spec.free_slots))
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Registrations: completed ones for the first generated users, plus stuck sagas to repair.
async fn registrations(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO registration (id, email, name, organisation, requested_roles, state, sub,
                                   identity_created, actor_user_id, via, os_user, created_at, updated_at)
         SELECT md5($1::bigint || ':reg:' || n)::uuid, u.email, u.name, u.org, ARRAY[$2::uuid],
                'complete', u.sub, true,
                CASE WHEN n % 2 = 0 THEN $3::uuid END,
                CASE WHEN n % 2 = 0 THEN 'tui' ELSE 'cli' END,
                CASE WHEN n % 2 = 0 THEN NULL ELSE 'deploy' END,
                u.created, u.created
         FROM gen_user u WHERE n <= 12",
    )
    .bind(spec.seed)
    .bind(RoleRef::Researcher.id())
    .bind(DEMO_ADMIN_SUB)
    .execute(&mut *tx)
    .await?;
    // (email, name, organisation, state, last_error, rollback_error)
    let stuck: [(&str, &str, &str, &str, &str, &str); 6] = [
        (
            "nadia.rahman@ucl.example",
            "Nadia Rahman",
            "University College London",
            "roles_pending",
            "granting roles failed: database connection lost",
            "",
        ),
        (
            "tom.whitfield@ouh.example",
            "Tom Whitfield",
            "Oxford University Hospitals NHS Foundation Trust",
            "roles_pending",
            "granting roles failed: statement timeout",
            "",
        ),
        (
            "grace.adeyemi@kcl.example",
            "Grace Adeyemi",
            "King's College London",
            "roles_pending",
            "granting roles failed: database connection lost",
            "",
        ),
        (
            "liam.oconnor@mft.example",
            "Liam O'Connor",
            "Manchester University NHS Foundation Trust",
            "needs_cleanup",
            "saving the profile failed: database connection lost",
            "deleting the directory identity failed: directory unavailable (transient): 503",
        ),
        (
            "sara.lindqvist@turing.example",
            "Sara Lindqvist",
            "The Alan Turing Institute",
            "needs_cleanup",
            "saving the profile failed: statement timeout",
            "deleting the directory identity failed: directory throttled the request",
        ),
        (
            "marek.kowalski@hdruk.example",
            "Marek Kowalski",
            "Health Data Research UK",
            "rolled_back",
            "creating the directory identity failed: directory unavailable (transient): 503",
            "",
        ),
    ];
    let mut emails = Vec::new();
    let mut names = Vec::new();
    let mut orgs = Vec::new();
    let mut states = Vec::new();
    let mut errors = Vec::new();
    let mut rollback = Vec::new();
    for s in stuck {
        emails.push(s.0.to_string());
        names.push(s.1.to_string());
        orgs.push(s.2.to_string());
        states.push(s.3.to_string());
        errors.push(s.4.to_string());
        rollback.push(s.5.to_string());
    }
    sqlx::query(
        "CREATE TEMP TABLE gen_stuck ON COMMIT DROP AS
         SELECT i, email, name, org, state, err, rb,
                CASE WHEN state <> 'rolled_back' THEN md5($1::bigint || ':stuck:' || i)::uuid END AS sub,
                $8::timestamptz - make_interval(hours => (i * 5)::int) AS created
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
              WITH ORDINALITY AS s(email, name, org, state, err, rb, i)",
    )
    .bind(spec.seed)
    .bind(emails)
    .bind(names)
    .bind(orgs)
    .bind(states)
    .bind(errors)
    .bind(rollback)
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO registration (id, email, name, organisation, requested_roles, state, sub,
                                   identity_created, last_error, rollback_error, actor_user_id,
                                   via, created_at, updated_at)
         SELECT md5($1::bigint || ':regs:' || i)::uuid, email, name, org, ARRAY[$2::uuid], state, sub,
                sub IS NOT NULL, err, nullif(rb, ''), $3::uuid, 'tui', created, created
         FROM gen_stuck",
    )
    .bind(spec.seed)
    .bind(RoleRef::Researcher.id())
    .bind(DEMO_ADMIN_SUB)
    .execute(&mut *tx)
    .await?;
    // The stuck sagas' identities exist in the directory (that is what makes them stuck).
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, email_verified, enabled, status, created_at, updated_at)
         SELECT sub, email, email, true, true, 'FORCE_CHANGE_PASSWORD', created, created
         FROM gen_stuck WHERE sub IS NOT NULL",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at, updated_at)
         SELECT sub, email, email, true, 'FORCE_CHANGE_PASSWORD', created, created, created
         FROM gen_stuck WHERE sub IS NOT NULL",
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn audit(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    let admin = DEMO_ADMIN_SUB;
    sqlx::query(
        "INSERT INTO mandate_audit (actor_user_id, via, os_user, mandate_id, mandate_name, action, target_user_id, details, created_at)
         SELECT CASE WHEN n % 3 = 0 THEN NULL ELSE $2::uuid END,
                CASE WHEN n % 3 = 0 THEN 'cli' ELSE 'tui' END,
                CASE WHEN n % 3 = 0 THEN 'deploy' END,
                id, name, 'MANDATE_CREATED', NULL::uuid,
                jsonb_build_object('plan', plan_key, 'label', label), created
         FROM gen_mandate WHERE n % 10 = 0
         UNION ALL
         SELECT $2::uuid, 'tui', NULL, id, name, 'MANDATE_DISABLED', NULL, '{}'::jsonb,
                created + interval '40 days'
         FROM gen_mandate WHERE NOT enabled AND deleted_at IS NULL AND n % 2 = 0
         UNION ALL
         SELECT $2::uuid, 'tui', NULL, id, name, 'MANDATE_SOFT_DELETED', NULL, '{}'::jsonb, deleted_at
         FROM gen_mandate WHERE deleted_at IS NOT NULL
         UNION ALL
         SELECT $2::uuid, 'tui', NULL, g.mandate_id, m.name,
                CASE WHEN g.is_admin THEN 'MEMBER_ADDED_AS_ADMIN' ELSE 'MEMBER_ADDED' END,
                g.user_id, '{}'::jsonb, g.created
         FROM gen_member g JOIN gen_mandate m ON m.n = g.n WHERE g.n = 0 AND g.j < 200",
    )
    .bind(spec.seed)
    .bind(admin)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO users_audit (action, user_id, modified_by_user_id, via, os_user, details, \"timestamp\", created_at)
         SELECT 'REGISTERED', sub, CASE WHEN n % 2 = 0 THEN $1::uuid END,
                CASE WHEN n % 2 = 0 THEN 'tui' ELSE 'cli' END,
                CASE WHEN n % 2 = 0 THEN NULL ELSE 'deploy' END,
                jsonb_build_object('email', email), created, created
         FROM gen_user WHERE n % 20 = 0
         UNION ALL
         SELECT 'ROLES_CHANGED', sub, $1::uuid, 'tui', NULL,
                jsonb_build_object('roles', CASE WHEN role_pick < 3 THEN 'ADMIN' ELSE 'RESEARCHER' END),
                created + interval '3 days', created + interval '3 days'
         FROM gen_user WHERE n % 37 = 0 AND role_pick < 33
         UNION ALL
         SELECT 'DISABLED', sub, $1::uuid, 'tui', NULL, '{}'::jsonb,
                created + interval '90 days', created + interval '90 days'
         FROM gen_user WHERE NOT enabled AND n % 3 = 0",
    )
    .bind(admin)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO trusts_audit (trust_id, trust_name, action, modified_by_user_id, via, os_user, details, audit_date, created_at)
         SELECT id, name, 'REGISTERED', NULL, 'cli', 'deploy', jsonb_build_object('code', code, 'region', region), created_at, created_at
         FROM trust
         UNION ALL
         SELECT id, name, 'KEY_ROTATED', $1::uuid, 'tui', NULL, '{}'::jsonb,
                created_at + interval '120 days', created_at + interval '120 days'
         FROM trust WHERE code < 'H'",
    )
    .bind(admin)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Row counts (for the demo's summary line, tests and benchmarks).
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
