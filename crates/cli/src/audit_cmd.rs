//! `radgate audit verify`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use radgate_store::Store;

use crate::load::Reported;

pub fn verify(db: Option<&Path>, url: Option<&str>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = match (db, url) {
            (Some(path), _) => {
                // Verifying must not create an empty database where none was.
                if !path.is_file() {
                    bail!("no database file at {}", path.display());
                }
                Store::open_sqlite(path).await
            }
            (None, Some(url)) => Store::connect(url).await,
            (None, None) => bail!("give --db FILE or --database-url URL"),
        }
        .context("cannot open the database")?;
        match store
            .verify_audit()
            .await
            .context("cannot read the audit log")?
        {
            Ok(report) => {
                println!(
                    "audit log intact: {} events, head {}",
                    report.events, report.head
                );
                Ok(())
            }
            Err(broken) => {
                eprintln!("audit log broken at event {}: {broken}", broken.seq());
                Err(Reported.into())
            }
        }
    })
}
