//! Results to the RIS: an authorized report (and, when configured, a preliminary one)
//! becomes an ORU^R01 in the durable outbox in the transaction that saved it; a background
//! sender delivers the outbox in order over MLLP and marks a message sent only on an `AA`
//! (or `CA`) acknowledgement, retrying with back-off while the RIS is down or refuses.

use std::time::Duration;

use chrono::Utc;
use radgate_domain::report::Report;
use radgate_interop::hl7::{Message, ResultContext, oru, sends};
use radgate_interop::mllp::{Decoder, Frame, frame};
use radgate_store::Tx;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::problem::Problem;
use crate::state::App;

/// The outbox destination name of the RIS.
pub const RIS: &str = "ris";
const CONNECT: Duration = Duration::from_secs(5);
const REPLY: Duration = Duration::from_secs(10);
/// Longest wait between attempts.
const MAX_BACKOFF_SECS: i64 = 300;

/// Where results go.
#[derive(Debug, Clone)]
pub struct RisTarget {
    /// `host:port` of the RIS's MLLP listener.
    pub addr: String,
    /// MSH-5 and MSH-6 of what radgate sends.
    pub application: String,
    pub facility: String,
    /// Also send preliminary reports (OBR-25 `P`).
    pub send_preliminary: bool,
}

/// Owes the RIS this version of the report, when it is one the RIS takes.
pub(crate) async fn owe_report(
    app: &App,
    tx: &mut Tx,
    report: &Report,
    now: chrono::DateTime<Utc>,
) -> Result<(), Problem> {
    let Some(ris) = &app.ris else { return Ok(()) };
    if !sends(report, ris.send_preliminary) {
        return Ok(());
    }
    let Some(study) = tx.study(report.accession.as_str()).await? else {
        return Err(Problem::internal("a report without its study"));
    };
    let ctx = ResultContext {
        patient: study.patient.as_str(),
        procedure_code: &study.procedure_code,
        acquired_at: study.acquired_at,
        receiver: (&ris.application, &ris.facility),
    };
    let payload = oru(report, &ctx, &crate::mllp::control_id(), now);
    tx.enqueue(RIS, report.accession.as_str(), "ORU^R01", &payload, now)
        .await?;
    Ok(())
}

/// Delivers the outbox to the RIS until the task is aborted.
pub(crate) async fn run(app: App, ris: std::sync::Arc<RisTarget>) {
    let lease = chrono::Duration::seconds(CONNECT.as_secs() as i64 + REPLY.as_secs() as i64 + 5);
    loop {
        let now = Utc::now();
        let next = match app.store.next_due(RIS, now, lease).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("outbox: cannot read: {e}");
                None
            }
        };
        let Some(m) = next else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let outcome = deliver(&ris.addr, &m.payload).await;
        let recorded = match &outcome {
            Ok(()) => app.store.mark_sent(m.id, Utc::now()).await,
            Err(e) => {
                let wait = (1i64 << m.attempts.clamp(0, 16)).min(MAX_BACKOFF_SECS);
                tracing::warn!(
                    "outbox: {} for {} not delivered (attempt {}): {e}; next try in {wait} s",
                    m.kind,
                    m.accession,
                    m.attempts + 1
                );
                app.store
                    .mark_failed(m.id, e, Utc::now() + chrono::Duration::seconds(wait))
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!("outbox: cannot record the attempt for {}: {e}", m.accession);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Sends one message and waits for its acknowledgement.
async fn deliver(addr: &str, payload: &str) -> Result<(), String> {
    let mut stream = tokio::time::timeout(CONNECT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("no connection to {addr} within {CONNECT:?}"))?
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .write_all(&frame(payload))
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    let mut decoder = Decoder::new(crate::mllp::MAX_FRAME);
    let mut buf = vec![0u8; 8192];
    let reply = tokio::time::timeout(REPLY, async {
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the RIS closed the connection without an acknowledgement".to_owned());
            }
            if let Some(f) = decoder.push(&buf[..n]).into_iter().next() {
                return match f {
                    Frame::Message(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
                    Frame::Error(e) => Err(format!("unreadable acknowledgement: {e}")),
                };
            }
        }
    })
    .await
    .map_err(|_| format!("no acknowledgement within {REPLY:?}"))??;
    let ack = Message::parse(&reply).map_err(|e| format!("unreadable acknowledgement: {e}"))?;
    let (_, msa) = ack
        .segment("MSA")
        .ok_or("the acknowledgement has no MSA segment")?;
    match ack.component(msa, 1, 1).as_str() {
        "AA" | "CA" => Ok(()),
        code => Err(format!("the RIS answered {code}: {}", ack.value(msa, 3))),
    }
}
