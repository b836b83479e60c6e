//! MLLP framing (HL7 v2 over TCP): `<VT> message <FS><CR>`. The decoder takes bytes as
//! they arrive and hands out whole messages; it refuses frames over a size limit and
//! bytes outside a frame, so a bad sender cannot make it buffer without end.

pub const START: u8 = 0x0b;
pub const END: u8 = 0x1c;
pub const CR: u8 = 0x0d;

/// Wraps `message` in an MLLP frame.
pub fn frame(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START);
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(&[END, CR]);
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame exceeds {0} bytes")]
    TooLarge(usize),
    #[error("bytes outside a frame (expected 0x0B to start one)")]
    OutsideFrame,
}

/// What the decoder found in the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One whole message's bytes (between the start byte and the end bytes).
    Message(Vec<u8>),
    /// The frame could not be read; the connection should be closed after answering.
    Error(FrameError),
}

#[derive(Debug)]
pub struct Decoder {
    max: usize,
    buf: Vec<u8>,
    in_frame: bool,
}

impl Decoder {
    /// A decoder that refuses frames over `max` bytes.
    pub fn new(max: usize) -> Decoder {
        Decoder {
            max,
            buf: Vec::new(),
            in_frame: false,
        }
    }

    /// Whether part of a frame is waiting for the rest (a truncated frame when the
    /// connection closes now).
    pub fn partial(&self) -> bool {
        self.in_frame
    }

    /// Feeds bytes; returns the frames they completed, in order. After an error the
    /// decoder stops: the sender is out of step and the connection should end.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        for &b in bytes {
            if !self.in_frame {
                match b {
                    START => {
                        self.in_frame = true;
                        self.buf.clear();
                    }
                    // Whitespace between frames is tolerated (some senders add a LF).
                    b'\r' | b'\n' | b' ' | b'\t' => {}
                    _ => {
                        out.push(Frame::Error(FrameError::OutsideFrame));
                        return out;
                    }
                }
                continue;
            }
            if b == CR && self.buf.last() == Some(&END) {
                self.buf.pop();
                self.in_frame = false;
                out.push(Frame::Message(std::mem::take(&mut self.buf)));
                continue;
            }
            self.buf.push(b);
            if self.buf.len() > self.max + 1 {
                self.in_frame = false;
                self.buf.clear();
                out.push(Frame::Error(FrameError::TooLarge(self.max)));
                return out;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let mut bytes = frame("MSH|^~\\&|A\rPID|1");
        bytes.extend(frame("MSH|^~\\&|B"));
        for cut in 0..bytes.len() {
            let mut d = Decoder::new(1024);
            let mut got = d.push(&bytes[..cut]);
            got.extend(d.push(&bytes[cut..]));
            assert_eq!(
                got,
                [
                    Frame::Message(b"MSH|^~\\&|A\rPID|1".to_vec()),
                    Frame::Message(b"MSH|^~\\&|B".to_vec())
                ],
                "cut at {cut}"
            );
            assert!(!d.partial());
        }
    }

    #[test]
    fn oversized_and_stray_bytes_are_refused() {
        let mut d = Decoder::new(8);
        assert_eq!(
            d.push(&frame("0123456789")),
            [Frame::Error(FrameError::TooLarge(8))]
        );
        let mut d = Decoder::new(8);
        assert_eq!(
            d.push(b"GET / HTTP/1.1"),
            [Frame::Error(FrameError::OutsideFrame)]
        );
        let mut d = Decoder::new(64);
        assert!(d.push(&[START, b'M', b'S']).is_empty());
        assert!(d.partial(), "a truncated frame is still waiting");
        // An FS without CR is data, not the end.
        let mut d = Decoder::new(64);
        assert!(d.push(&[START, b'a', END, b'b']).is_empty());
        assert_eq!(d.push(&[END, CR]), [Frame::Message(vec![b'a', END, b'b'])]);
    }
}
