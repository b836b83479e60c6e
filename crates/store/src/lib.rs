//! radgate's persistence. One implementation over sqlx's `Any` driver serves both
//! backends: SQLite (the embedded default: one file, WAL, fsync on commit) and PostgreSQL
//! (shared by several radgate instances). The backend is chosen by URL.
//!
//! SQL is written once with `$1, $2, ...` placeholders, which both backends read as
//! numbered parameters; only the schema (DDL) differs per backend, in `migrations/`.
//! Times are stored as milliseconds since the Unix epoch; domain objects whole as JSON.

mod accounts;
mod alarms;
mod audit;
mod configuration;
mod dialect;
mod dicom;
mod migrate;
mod monitoring;
mod outbox;
mod pilots;
mod placements;
mod portfolio;
mod quality;
mod records;
mod register;
mod replay;
mod rubric;
mod safety;
mod thesis;
mod truth;
mod tx;
mod ups;
mod worklist;

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use sqlx::any::AnyConnectOptions;

use crate::dialect::Dialect;

pub use accounts::{ApiKey, User};
pub use alarms::Alarm;
pub use audit::{AuditRecord, AuditSearch, ChainBreak, ChainReport, chain_hash};
pub use configuration::{Change, ConfigurationError};
pub use dicom::{
    AiObject, QuietStudy, ReceivedInstance, Reconcile, StoredStudy, StudyPart, Unreconciled,
};
pub use monitoring::Stratum;
pub use outbox::{Backlog, OutboxMessage};
pub use portfolio::{ImportError, Imported};
pub use quality::{GivenGrade, Notification};
pub use replay::ReplayCursor;
pub use safety::SafetyReview;
pub use truth::{
    Adjudication, CallTruth, GivenFeedback, Origin, StoredExternalReport, StoredLabel,
    TextsToLabel, TruthRecord,
};
pub use tx::{Inserted, Tx};
pub use ups::{UpsEvent, UpsOutcome, UpsQuery, UpsWorkitem};
pub use worklist::{ClaimError, NewWorkItem, WorklistQuery, WorklistRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://...")]
    UnsupportedUrl(String),
    #[error("stored {what} {key} cannot be read back: {reason}")]
    Corrupt {
        what: &'static str,
        key: String,
        reason: String,
    },
    #[error("migration {version} failed: {source}")]
    Migration {
        version: i64,
        #[source]
        source: sqlx::Error,
    },
    #[error("the database has schema version {found}, newer than this radgate knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("{0} is not an SQLite database (it lacks the SQLite file header)")]
    NotSqlite(String),
    #[error("cannot reach the database: {0}")]
    Unreachable(String),
}

/// How long opening the database may take before radgate gives up with the cause.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The file an `sqlite:` URL names, when it names one.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Refuses, before anything is written, a file that exists and is not SQLite: opening it
/// would otherwise fail on every pooled connection until the pool gives up.
fn check_sqlite_file(path: &str) -> Result<()> {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return Ok(()); // absent: SQLite creates it
    };
    let mut head = [0u8; 16];
    match f.read(&mut head) {
        Ok(0) => Ok(()),
        Ok(n) if n == 16 && &head == b"SQLite format 3\0" => Ok(()),
        _ => Err(StoreError::NotSqlite(path.to_owned())),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: &'static dyn Dialect,
}

impl Store {
    /// Opens (and creates, for SQLite) the database at `url` and brings its schema up to
    /// date.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect: &'static dyn Dialect = if url.starts_with("sqlite:") {
            &dialect::SQLITE
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            &dialect::POSTGRES
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        if let Some(path) = sqlite_file(url) {
            check_sqlite_file(path)?;
        }
        let options = AnyConnectOptions::from_str(url)?;
        // One connection first, within a few seconds, so that a wrong address or a server
        // that is down is reported with its cause instead of a pool timing out.
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options),
        )
        .await
        {
            Err(_) => {
                return Err(StoreError::Unreachable(format!(
                    "no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
            Ok(Err(e)) => return Err(StoreError::Unreachable(e.to_string())),
            Ok(Ok(c)) => sqlx::Connection::close(c).await?,
        }
        let pool = dialect
            .pool_options()
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await?;
        let store = Store { pool, dialect };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// Opens the SQLite database in `path`, creating the file if needed.
    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        Store::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    pub fn backend(&self) -> Backend {
        self.dialect.backend()
    }

    pub(crate) fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction: everything written through it lands together or not
    /// at all (and on SQLite, it waits for the write lock rather than failing later).
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx::new(
            self.dialect.begin_write(&self.pool).await?,
            self.dialect,
        ))
    }

    /// A study's report, if one was started.
    pub async fn report(&self, accession: &str) -> Result<Option<radgate_domain::report::Report>> {
        let row = sqlx::query("SELECT body FROM reports WHERE accession = $1")
            .bind(accession)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            tx::parse(
                "report",
                accession,
                &sqlx::Row::try_get::<String, _>(&r, "body")?,
            )
        })
        .transpose()
    }

    /// How many versions of a study's report are stored.
    pub async fn report_version_count(&self, accession: &str) -> Result<i64> {
        Ok(sqlx::Row::try_get(
            &sqlx::query("SELECT COUNT(*) AS n FROM report_versions WHERE accession = $1")
                .bind(accession)
                .fetch_one(&self.pool)
                .await?,
            "n",
        )?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
