//! Running the report labeller over a study's final report texts and deciding its truth
//! again. The labeller runs after the report is stored, outside the transaction that
//! stored it: a slow or failing labeller never holds up or loses a report, and a study it
//! could not label is labelled by the next relabel (`radgate labeller relabel`).

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use radgate_domain::labeller::{Label, Vocabulary, label};
use radgate_store::{Origin, Store};

/// The labeller radgate runs: the built-in vocabulary, or a hospital's own service.
pub enum Labeller {
    Vocabulary(Vocabulary),
    /// A hospital's own NLP or language-model service over HTTP ([`External`]).
    External(External),
}

/// A labeller service: radgate POSTs `{"text", "findings": [codes]}` as JSON to `url`
/// and takes `{"version", "labels": [{"finding", "value": "present" | "absent" |
/// "uncertain", "sentence"?, "cue"?}]}`, the shape of radgate's own labels. Labels of
/// findings not asked for are dropped; a finding left out stays unlabelled. Plain HTTP:
/// run it on the same host or behind the hospital's TLS proxy.
#[derive(Clone)]
pub struct External {
    pub url: String,
    /// The register's finding codes, asked for every time.
    pub findings: Vec<String>,
    pub timeout: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LabellingError {
    #[error(transparent)]
    Store(#[from] radgate_store::StoreError),
    #[error("the labeller at {url} did not answer usably: {reason}")]
    External { url: String, reason: String },
}

#[derive(serde::Serialize)]
struct Ask<'a> {
    text: &'a str,
    findings: &'a [String],
}

#[derive(serde::Deserialize)]
struct Answer {
    version: String,
    labels: Vec<AnswerLabel>,
}

#[derive(serde::Deserialize)]
struct AnswerLabel {
    finding: String,
    value: radgate_domain::labeller::Value,
    #[serde(default)]
    sentence: Option<String>,
    #[serde(default)]
    cue: Option<String>,
}

impl External {
    /// Refuses what cannot work: another scheme than http (no TLS stack is built in).
    pub fn new(url: &str, findings: Vec<String>) -> Result<External, String> {
        if !url.starts_with("http://") {
            return Err(format!(
                "the labeller URL must be http:// (put a TLS proxy in front of a remote service), not {url}"
            ));
        }
        Ok(External {
            url: url.to_string(),
            findings,
            timeout: std::time::Duration::from_secs(30),
        })
    }

    fn ask(&self, text: &str) -> Result<Vec<Label>, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .build()
            .into();
        let mut resp = agent
            .post(&self.url)
            .send_json(Ask {
                text,
                findings: &self.findings,
            })
            .map_err(|e| e.to_string())?;
        let a: Answer = resp.body_mut().read_json().map_err(|e| e.to_string())?;
        if a.version.trim().is_empty() {
            return Err("the answer names no version".into());
        }
        Ok(a.labels
            .into_iter()
            .filter(|l| self.findings.contains(&l.finding))
            .map(|l| Label {
                finding: l.finding,
                value: l.value,
                version: a.version.clone(),
                sentence: l.sentence,
                cue: l.cue,
            })
            .collect())
    }
}

impl Labeller {
    /// The labeller's version as it labels now (an external one's, once it answered).
    pub fn version(&self) -> String {
        match self {
            Labeller::Vocabulary(v) => v.version.clone(),
            Labeller::External(e) => format!("external {}", e.url),
        }
    }

    /// Labels one text.
    pub async fn label(&self, text: &str) -> Result<Vec<Label>, LabellingError> {
        match self {
            Labeller::Vocabulary(v) => Ok(label(v, text)),
            Labeller::External(e) => {
                let (url, text) = (e.url.clone(), text.to_string());
                let asked = e.clone();
                tokio::task::spawn_blocking(move || asked.ask(&text))
                    .await
                    .map_err(|e| LabellingError::External {
                        url: url.clone(),
                        reason: e.to_string(),
                    })?
                    .map_err(|reason| LabellingError::External { url, reason })
            }
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
/// report itself is safe and the next relabel labels the study. The built-in labeller
/// runs before the answer (milliseconds); a service is asked in the background, so a
/// slow one never delays an acknowledgement.
pub async fn after_report(store: &Store, labeller: &Arc<Labeller>, accession: &str) {
    let run = |store: Store, labeller: Arc<Labeller>, accession: String| async move {
        if let Err(e) = label_study(&store, &labeller, &accession).await {
            tracing::warn!(accession, error = %e, "the report labeller did not run; relabel this study later");
        }
    };
    let task = run(store.clone(), labeller.clone(), accession.to_string());
    match **labeller {
        Labeller::Vocabulary(_) => task.await,
        Labeller::External(_) => {
            tokio::spawn(task);
        }
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
