//! The HL7 v2 listener: orders (ORM^O01, OMI^O23) and final reports (ORU^R01) from the
//! RIS over MLLP, each acknowledged once it is stored (AA), or answered AE/AR with an ERR segment naming the segment, field and
//! reason. A connection that sends an oversized frame, bytes outside a frame or nothing
//! for the idle timeout is closed; the listener itself always goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use radgate_interop::hl7::order::message_type;
use radgate_interop::hl7::result::RESULT_TYPE;
use radgate_interop::hl7::{AckCode, Hl7Error, Message, ack, read_order, read_result};
use radgate_interop::mllp::{Decoder, Frame, frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::state::App;

/// Frames larger than this are refused (reports with embedded documents are not taken).
pub const MAX_FRAME: usize = 1 << 20;
/// A connection that sends nothing for this long is closed.
pub const IDLE: Duration = Duration::from_secs(30);

static CONTROL: AtomicU64 = AtomicU64::new(0);

/// A control ID for what radgate sends: unique within this process and across restarts.
pub(crate) fn control_id() -> String {
    let n = CONTROL.fetch_add(1, Ordering::Relaxed);
    format!("RG{}{n:04}", Utc::now().timestamp_millis())
}

/// Serves MLLP connections; when `allow` lists addresses, a connection from any other
/// is closed at once.
pub async fn serve(app: App, listener: TcpListener, idle: Duration, allow: Vec<std::net::IpAddr>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if !allow.is_empty() && !allow.contains(&peer.ip()) {
                    tracing::warn!("MLLP connection from {peer} refused: not an allowed sender");
                    drop(stream);
                    continue;
                }
                let app = app.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(&app, stream, idle).await {
                        tracing::info!("MLLP connection from {peer} ended: {e}");
                    }
                });
            }
            // Out of file descriptors and the like: wait and go on listening.
            Err(e) => {
                tracing::warn!("MLLP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(app: &App, mut stream: TcpStream, idle: Duration) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut decoder = Decoder::new(MAX_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match tokio::time::timeout(idle, stream.read(&mut buf)).await {
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    if decoder.partial() {
                        "a frame was left unfinished"
                    } else {
                        "idle"
                    },
                ));
            }
            Ok(read) => read?,
        };
        if n == 0 {
            if decoder.partial() {
                tracing::warn!("MLLP peer closed in the middle of a frame; nothing stored from it");
            }
            return Ok(());
        }
        for f in decoder.push(&buf[..n]) {
            match f {
                Frame::Message(bytes) => {
                    let reply = handle(app, &bytes).await;
                    stream.write_all(&frame(&reply)).await?;
                }
                Frame::Error(e) => {
                    let err = Hl7Error::new("MSH", 0, 0, 207, format!("MLLP framing: {e}"));
                    let reply = ack(None, AckCode::Reject, Some(&err), &control_id(), Utc::now());
                    stream.write_all(&frame(&reply)).await?;
                    stream.shutdown().await?;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        e.to_string(),
                    ));
                }
            }
        }
    }
}

/// HL7 v2 defaults to ASCII; senders that declare nothing but send Latin-1 (common in
/// older Dutch RIS installations) get their bytes read as Latin-1 rather than refused.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The actor a message is recorded under: its sending application.
fn actor(message: &Message) -> String {
    let sender = message.component(message.msh(), 3, 1);
    format!(
        "hl7:{}",
        if sender.is_empty() {
            "unknown"
        } else {
            &sender
        }
    )
}

/// A report from the RIS in, acknowledged once stored.
async fn result(app: &App, message: &Message, now: chrono::DateTime<Utc>) -> String {
    let report = match read_result(message) {
        Ok(r) => r,
        Err(e) => return ack(Some(message), AckCode::Error, Some(&e), &control_id(), now),
    };
    match crate::ingest::external_report(app, &report, &actor(message)).await {
        Ok(_) => ack(Some(message), AckCode::Accept, None, &control_id(), now),
        Err(p) => {
            let obr = message.segment("OBR").map_or(0, |(i, _)| i);
            let e = Hl7Error::new("OBR", obr, 1, 207, p.detail);
            ack(Some(message), AckCode::Error, Some(&e), &control_id(), now)
        }
    }
}

/// One message in, its acknowledgement out.
pub(crate) async fn handle(app: &App, bytes: &[u8]) -> String {
    let now = Utc::now();
    let text = decode(bytes);
    let message = match Message::parse(&text) {
        Ok(m) => m,
        Err(e) => return ack(None, AckCode::Reject, Some(&e), &control_id(), now),
    };
    if message_type(&message) == RESULT_TYPE {
        return result(app, &message, now).await;
    }
    let order = match read_order(&message) {
        Ok(o) => o,
        Err(e) => {
            // Unsupported types and versions are rejected; content errors are errors.
            let code = if e.code >= 200 {
                AckCode::Reject
            } else {
                AckCode::Error
            };
            return ack(Some(&message), code, Some(&e), &control_id(), now);
        }
    };
    match crate::ingest::order(app, &order.order, &actor(&message)).await {
        Ok(_) => ack(Some(&message), AckCode::Accept, None, &control_id(), now),
        // Refused by the domain (a change to a cancelled order, a conflicting repeat) or
        // the store: nothing was stored, and the sender learns why.
        Err(p) => {
            let orc = message.segment("ORC").map_or(0, |(i, _)| i);
            let e = Hl7Error::new("ORC", orc, 1, 207, p.detail);
            ack(Some(&message), AckCode::Error, Some(&e), &control_id(), now)
        }
    }
}
