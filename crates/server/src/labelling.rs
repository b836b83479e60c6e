//! Running the report labeller over a study's final report texts and deciding its truth
//! again. The labeller runs after the report is stored, outside the transaction that
//! stored it: a slow or failing labeller never holds up or loses a report, and a study it
//! could not label is labelled by the next relabel (`radgate labeller relabel`).

use chrono::{NaiveDate, Utc};
use radgate_domain::labeller::{Label, Vocabulary, label};
use radgate_store::{Origin, Store};

/// The labeller radgate runs: the built-in vocabulary, or a hospital's own service.
pub enum Labeller {
    Vocabulary(Vocabulary),
}

#[derive(Debug, thiserror::Error)]
pub enum LabellingError {
    #[error(transparent)]
    Store(#[from] radgate_store::StoreError),
}

impl Labeller {
    /// The labeller's version as it labels now.
    pub fn version(&self) -> String {
        match self {
            Labeller::Vocabulary(v) => v.version.clone(),
        }
    }

    /// Labels one text.
    pub async fn label(&self, text: &str) -> Result<Vec<Label>, LabellingError> {
        match self {
            Labeller::Vocabulary(v) => Ok(label(v, text)),
        }
    }
}

/// Labels the study's final texts (radgate's report without feedback, the RIS's final
/// reports), stores the labels and decides the study's truth again.
pub async fn label_study(
    store: &Store,
    labeller: &Labeller,
    accession: &str,
) -> Result<(), LabellingError> {
    let texts = store.texts_to_label(accession).await?;
    let mut radgate = Vec::with_capacity(texts.radgate.len());
    for t in &texts.radgate {
        radgate.push(labeller.label(t).await?);
    }
    let mut ris = Vec::with_capacity(texts.ris.len());
    for (seq, t) in &texts.ris {
        ris.push((*seq, labeller.label(t).await?));
    }
    let now = Utc::now();
    let mut tx = store.begin().await?;
    tx.drop_report_labels(accession).await?;
    for (i, labels) in radgate.iter().enumerate() {
        tx.save_labels(accession, Origin::Radgate, i as i64, labels, now)
            .await?;
    }
    for (seq, labels) in &ris {
        tx.save_labels(accession, Origin::Ris, *seq, labels, now)
            .await?;
    }
    tx.refresh_truth(accession, now).await?;
    tx.commit().await?;
    Ok(())
}

/// [`label_study`] after a report was stored: a failure is logged, never returned, as the
/// report itself is safe and the next relabel labels the study.
pub async fn after_report(store: &Store, labeller: &Labeller, accession: &str) {
    if let Err(e) = label_study(store, labeller, accession).await {
        tracing::warn!(accession, error = %e, "the report labeller did not run; relabel this study later");
    }
}

/// What a relabel did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Relabelled {
    pub studies: usize,
    pub failed: Vec<String>,
    pub version: String,
}

/// Labels again every study acquired from `from` to `to` (inclusive) with AI calls and a
/// final report, e.g. after a vocabulary change; `progress` hears (done, total).
pub async fn relabel(
    store: &Store,
    labeller: &Labeller,
    from: NaiveDate,
    to: NaiveDate,
    mut progress: impl FnMut(usize, usize),
) -> Result<Relabelled, LabellingError> {
    let studies = store.reported_studies_with_calls(from, to).await?;
    let mut out = Relabelled {
        version: labeller.version(),
        ..Relabelled::default()
    };
    for (i, acc) in studies.iter().enumerate() {
        match label_study(store, labeller, acc).await {
            Ok(()) => out.studies += 1,
            Err(e) => {
                tracing::warn!(accession = %acc, error = %e, "relabel failed");
                out.failed.push(acc.clone());
            }
        }
        progress(i + 1, studies.len());
    }
    Ok(out)
}
