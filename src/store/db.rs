//! The database handle the rest of hubdeck holds: sqlx's pool plus how statements must be sent
//! to reach the server through the configured pooler.
//!
//! Straight to the server or through a session pooler, statements go as sqlx sends them:
//! prepared under a name and cached per connection, one round trip once cached.
//!
//! Through a transaction pooler the server connection is hubdeck's only while a transaction
//! is open. sqlx prepares a statement (Parse, Sync) and binds it in a second round trip (Bind,
//! Execute, Sync); outside a transaction the pooler may hand that second trip to another
//! server connection, and a statement's name left behind on a server connection collides with
//! the next client's. So in that mode every statement is sent unnamed (the server keeps the
//! unnamed statement only until the next one) and inside a transaction: a statement on a
//! connection that is not in one is wrapped in BEGIN … COMMIT of its own, which is what the
//! server's autocommit would have done. Nothing else may outlive a transaction on that path
//! (no session locks, no SET without LOCAL, no LISTEN; live updates poll).
//!
//! Store functions take `&Db` (a statement on any pooled connection) or `&mut Conn` (a
//! connection, usually inside a transaction begun with [`Db::begin`]); both are sqlx
//! executors, so the SQL is written once for every mode.

use std::ops::{Deref, DerefMut};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, TryFutureExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo, Postgres};
use sqlx::{Either, Execute, Executor, PgConnection, PgPool, Transaction};

use super::{StoreError, StoreResult};

/// sqlx's pool and the way statements travel through the pooler (see the module docs).
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
    through_transaction_pooler: bool,
}

impl From<PgPool> for Db {
    /// A pool straight to the server (or through a session pooler).
    fn from(pool: PgPool) -> Self {
        Db {
            pool,
            through_transaction_pooler: false,
        }
    }
}

impl Deref for Db {
    type Target = PgPool;
    fn deref(&self) -> &PgPool {
        &self.pool
    }
}

impl Db {
    /// A pool whose connections reach the server through a transaction pooler.
    pub fn through_transaction_pooler(pool: PgPool) -> Self {
        Db {
            pool,
            through_transaction_pooler: true,
        }
    }

    /// sqlx's pool itself: statements on it bypass the pooler handling (benchmarks and
    /// tools that set session state on a direct connection).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether statements go unnamed and inside transactions (a transaction pooler).
    pub fn is_transaction_pooled(&self) -> bool {
        self.through_transaction_pooler
    }

    /// A connection of the pool, not in a transaction.
    pub async fn acquire(&self) -> StoreResult<Conn> {
        let c = self.pool.acquire().await.map_err(StoreError::from)?;
        Ok(self.wrap(Held::Pooled(c)))
    }

    /// A transaction on a connection of the pool; dropped without [`Conn::commit`], it rolls
    /// back.
    pub async fn begin(&self) -> StoreResult<Conn> {
        let tx = self.pool.begin().await.map_err(StoreError::from)?;
        Ok(self.wrap(Held::Tx(tx)))
    }

    /// A transaction on a connection opened apart from the pool (the pool's connections may
    /// share a lost one's fate); dropped without commit, the connection closes and the server
    /// rolls the transaction back.
    pub async fn begin_apart(&self) -> StoreResult<Conn> {
        let options = self.pool.connect_options();
        let mut conn = <PgConnection as sqlx::Connection>::connect_with(&options).await?;
        sqlx::raw_sql("BEGIN").execute(&mut conn).await?;
        Ok(self.wrap(Held::Apart(conn)))
    }

    fn wrap(&self, held: Held) -> Conn {
        Conn {
            held,
            through_transaction_pooler: self.through_transaction_pooler,
        }
    }
}

enum Held {
    Pooled(PoolConnection<Postgres>),
    Tx(Transaction<'static, Postgres>),
    /// In a transaction begun by [`Db::begin_apart`].
    Apart(PgConnection),
}

/// One connection (pooled or opened apart), possibly inside a transaction.
pub struct Conn {
    held: Held,
    through_transaction_pooler: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("in_transaction", &self.in_transaction())
            .field(
                "through_transaction_pooler",
                &self.through_transaction_pooler,
            )
            .finish()
    }
}

impl Conn {
    /// Whether a transaction is open on this connection (begun by [`Db::begin`] or
    /// [`Db::begin_apart`]).
    pub fn in_transaction(&self) -> bool {
        matches!(self.held, Held::Tx(_) | Held::Apart(_))
    }

    fn pg(&mut self) -> &mut PgConnection {
        match &mut self.held {
            Held::Pooled(c) => c.deref_mut(),
            Held::Tx(t) => t.deref_mut(),
            Held::Apart(c) => c,
        }
    }

    /// Commits the transaction begun by [`Db::begin`] or [`Db::begin_apart`] (a no-op on a
    /// connection not in one).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.end("COMMIT").await
    }

    /// Rolls the transaction back (a no-op on a connection not in one).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.end("ROLLBACK").await
    }

    async fn end(self, how: &'static str) -> Result<(), sqlx::Error> {
        match self.held {
            Held::Tx(t) if how == "COMMIT" => t.commit().await,
            Held::Tx(t) => t.rollback().await,
            Held::Apart(mut c) => {
                let ended = sqlx::raw_sql(how).execute(&mut c).await.map(|_| ());
                let _ = sqlx::Connection::close(c).await;
                ended
            }
            Held::Pooled(_) => Ok(()),
        }
    }
}

/// A statement sent unnamed: everything as `E` says, except that it is never kept.
struct Unnamed<E>(E);

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Unnamed<E> {
    fn sql(self) -> sqlx::SqlStr {
        self.0.sql()
    }
    fn statement(&self) -> Option<&PgStatement> {
        self.0.statement()
    }
    fn take_arguments(
        &mut self,
    ) -> Result<Option<sqlx::postgres::PgArguments>, sqlx::error::BoxDynError> {
        self.0.take_arguments()
    }
    fn persistent(&self) -> bool {
        false
    }
}

type Item = Either<PgQueryResult, PgRow>;

/// Runs one statement unnamed in a transaction of its own on `conn` and collects its results
/// (rolled back if it fails, so the connection is left clean).
async fn autocommitted<'q, E>(conn: &mut PgConnection, query: E) -> Result<Vec<Item>, sqlx::Error>
where
    E: 'q + Execute<'q, Postgres>,
{
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
    let ran: Result<Vec<Item>, sqlx::Error> = conn.fetch_many(Unnamed(query)).try_collect().await;
    match ran {
        Ok(items) => {
            sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
            Ok(items)
        }
        Err(e) => {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

impl<'c> Executor<'c> for &'c mut Conn {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Item, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.through_transaction_pooler {
            return self.pg().fetch_many(query);
        }
        if self.in_transaction() {
            return self.pg().fetch_many(Unnamed(query));
        }
        let conn = self.pg();
        autocommitted(conn, query)
            .map_ok(|items| futures::stream::iter(items.into_iter().map(Ok)))
            .try_flatten_stream()
            .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.through_transaction_pooler {
            return self.pg().fetch_optional(query);
        }
        if self.in_transaction() {
            return self.pg().fetch_optional(Unnamed(query));
        }
        let conn = self.pg();
        Box::pin(async move {
            let items = autocommitted(conn, query).await?;
            Ok(first_row(items))
        })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pg().prepare_with(sql, parameters)
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pg().describe(sql)
    }
}

impl<'c> Executor<'c> for &'c Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Item, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.through_transaction_pooler {
            return self.pool.fetch_many(query);
        }
        let pool = self.pool.clone();
        async move {
            let mut conn = pool.acquire().await?;
            autocommitted(&mut conn, query).await
        }
        .map_ok(|items| futures::stream::iter(items.into_iter().map(Ok)))
        .try_flatten_stream()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.through_transaction_pooler {
            return self.pool.fetch_optional(query);
        }
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let items = autocommitted(&mut conn, query).await?;
            Ok(first_row(items))
        })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.describe(sql)
    }
}

/// The first row of an autocommitted statement's results (what `fetch_optional` answers).
fn first_row(items: Vec<Item>) -> Option<PgRow> {
    items.into_iter().find_map(|i| match i {
        Either::Right(row) => Some(row),
        Either::Left(_) => None,
    })
}
