//! What sits between hubdeck and the server, found out by behaviour (a pooler answers `SHOW
//! pool_mode` only on its admin console, which hubdeck's user cannot reach).
//!
//! Only simple-protocol statements are used, so the probe itself works through any pooler.

use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection, PgConnection, Row};

use super::StoreResult;

/// What the probe saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolerProbe {
    /// Two client connections ran on one server backend, or one client connection moved
    /// between backends: a pooler lends backends per transaction (or per statement).
    pub lends_per_transaction: bool,
    /// The port the server itself listens on (`current_setting('port')`).
    pub server_port: u16,
}

async fn backend_pid(conn: &mut PgConnection) -> StoreResult<String> {
    let row: PgRow = sqlx::raw_sql("SELECT pg_backend_pid()::text")
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<String, _>(0)?)
}

/// Two connections: A asks its backend pid, B opens a transaction (holding a backend) and asks
/// its pid, A asks again. Straight to the server or through a session pooler, A keeps one
/// backend and B has its own. A transaction pooler hands A's first backend to B (it was
/// idle) or moves A to another backend while B holds one.
pub async fn probe(opts: &PgConnectOptions) -> StoreResult<PoolerProbe> {
    let mut a = PgConnection::connect_with(opts).await?;
    let mut b = PgConnection::connect_with(opts).await?;
    let a1 = backend_pid(&mut a).await?;
    sqlx::raw_sql("BEGIN").execute(&mut b).await?;
    let b1 = backend_pid(&mut b).await?;
    let a2 = backend_pid(&mut a).await?;
    sqlx::raw_sql("COMMIT").execute(&mut b).await?;
    let row: PgRow = sqlx::raw_sql("SELECT current_setting('port')")
        .fetch_one(&mut a)
        .await?;
    let port: String = row.try_get(0)?;
    let _ = a.close().await;
    let _ = b.close().await;
    Ok(PoolerProbe {
        lends_per_transaction: a1 != a2 || a1 == b1,
        server_port: port.trim().parse().unwrap_or(0),
    })
}
