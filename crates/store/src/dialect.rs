//! What differs between the two backends, behind one trait: connection settings, schema
//! DDL, how a write transaction starts and how rows and tables are locked. Everything
//! else (all queries) is written once and runs on both.

use std::future::Future;
use std::pin::Pin;

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};

use crate::Backend;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = sqlx::Result<T>> + Send + 'a>>;

pub(crate) trait Dialect: Send + Sync + std::fmt::Debug {
    fn backend(&self) -> Backend;
    /// Pool size and per-connection settings.
    fn pool_options(&self) -> AnyPoolOptions;
    /// Picks this backend's DDL from a migration's `(sqlite, postgres)` pair.
    fn ddl<'m>(&self, sqlite: &'m str, postgres: &'m str) -> &'m str;
    /// Starts a transaction that will write.
    fn begin_write<'a>(&'a self, pool: &'a AnyPool) -> Boxed<'a, Transaction<'static, Any>>;
    /// The suffix of a SELECT that locks its rows until commit.
    fn row_lock(&self) -> &'static str;
    /// Locks `table` against other writers until commit (a no-op where the write
    /// transaction already excludes them).
    fn lock_table<'a>(&'a self, conn: &'a mut AnyConnection, table: &'static str) -> Boxed<'a, ()>;
    /// An SQL expression for the text of top-level key `key` of the JSON in `column`;
    /// both names are the caller's constants, never input.
    fn json_text(&self, column: &'static str, key: &'static str) -> String;
}

#[derive(Debug)]
pub(crate) struct Sqlite;

#[derive(Debug)]
pub(crate) struct Postgres;

pub(crate) static SQLITE: Sqlite = Sqlite;
pub(crate) static POSTGRES: Postgres = Postgres;

impl Dialect for Sqlite {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn pool_options(&self) -> AnyPoolOptions {
        // Several connections, so readers never wait for a writer (WAL); writers queue on
        // SQLite's lock through `BEGIN IMMEDIATE` and the busy timeout.
        AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL for concurrent readers; FULL so that a commit is on disk before
                    // radgate acknowledges it.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA busy_timeout = 5000",
                    ] {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            })
    }

    fn ddl<'m>(&self, sqlite: &'m str, _postgres: &'m str) -> &'m str {
        sqlite
    }

    fn begin_write<'a>(&'a self, pool: &'a AnyPool) -> Boxed<'a, Transaction<'static, Any>> {
        // Take the write lock at once: a transaction that reads and later writes would
        // otherwise fail with SQLITE_BUSY when another writer got in between, instead of
        // waiting its turn.
        Box::pin(pool.begin_with("BEGIN IMMEDIATE"))
    }

    fn row_lock(&self) -> &'static str {
        ""
    }

    fn lock_table<'a>(
        &'a self,
        _conn: &'a mut AnyConnection,
        _table: &'static str,
    ) -> Boxed<'a, ()> {
        // BEGIN IMMEDIATE already holds the database's only write lock.
        Box::pin(async { Ok(()) })
    }

    fn json_text(&self, column: &'static str, key: &'static str) -> String {
        format!("json_extract({column}, '$.{key}')")
    }
}

impl Dialect for Postgres {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn pool_options(&self) -> AnyPoolOptions {
        AnyPoolOptions::new().max_connections(8)
    }

    fn ddl<'m>(&self, _sqlite: &'m str, postgres: &'m str) -> &'m str {
        postgres
    }

    fn begin_write<'a>(&'a self, pool: &'a AnyPool) -> Boxed<'a, Transaction<'static, Any>> {
        Box::pin(pool.begin())
    }

    fn row_lock(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn lock_table<'a>(&'a self, conn: &'a mut AnyConnection, table: &'static str) -> Boxed<'a, ()> {
        Box::pin(async move {
            // Conflicts with itself, not with readers: writers of the table queue up.
            conn.execute(sqlx::AssertSqlSafe(format!(
                "LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"
            )))
            .await
            .map(drop)
        })
    }

    fn json_text(&self, column: &'static str, key: &'static str) -> String {
        format!("(CAST({column} AS json) ->> '{key}')")
    }
}
