//! The DICOM upper layer's P-DATA-TF PDUs (PS3.8 9.3.5), read straight from the wire into
//! the caller's buffers. dicom-ul negotiates the association; after that, the receiver
//! reads the data PDUs itself, because dicom-ul's reader copies each PDU four times
//! (socket buffer, its read buffer, a `Bytes`, a `Vec` per PDV) and an image is megabytes.
//! Generic over `Read`: bytes in, buffers filled; the server owns the socket.

use std::io::{self, Read};

pub const P_DATA_TF: u8 = 0x04;
pub const A_RELEASE_RQ: u8 = 0x05;
pub const A_ABORT: u8 = 0x07;

#[derive(Debug, thiserror::Error)]
pub enum PduError {
    #[error("reading a PDU: {0}")]
    Io(#[from] io::Error),
    #[error("PDU of {length} bytes, more than the {max} agreed")]
    TooLarge { length: u32, max: u32 },
    #[error("malformed P-DATA-TF PDU: {0}")]
    Malformed(&'static str),
}

/// A PDU's type and the length of what follows its 6-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduHeader {
    pub kind: u8,
    pub length: u32,
}

/// Reads a PDU header; `max` is the largest PDU the receiver agreed to take.
pub fn read_header<R: Read>(r: &mut R, max: u32) -> Result<PduHeader, PduError> {
    let mut h = [0u8; 6];
    r.read_exact(&mut h)?;
    let length = u32::from_be_bytes([h[2], h[3], h[4], h[5]]);
    if h[0] == P_DATA_TF && length > max {
        return Err(PduError::TooLarge { length, max });
    }
    Ok(PduHeader { kind: h[0], length })
}

/// Skips the body of a PDU the receiver does not read (A-RELEASE-RQ, A-ABORT).
pub fn skip<R: Read>(r: &mut R, length: u32) -> Result<(), PduError> {
    let skipped = io::copy(&mut r.take(u64::from(length)), &mut io::sink())?;
    if skipped < u64::from(length) {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok(())
}

/// One presentation data value's header: its context, and whether it is (the last
/// fragment of) a command or a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdv {
    pub context: u8,
    pub command: bool,
    pub last: bool,
    /// Bytes of value that follow.
    pub len: u32,
}

/// The PDVs of one P-DATA-TF PDU, read one at a time.
#[derive(Debug)]
pub struct PData {
    left: u32,
}

impl PData {
    pub fn new(header: PduHeader) -> PData {
        PData {
            left: header.length,
        }
    }

    /// The next PDV's header, or `None` at the end of the PDU. Its value is to be read
    /// with [`read_value`] before the next call.
    pub fn next<R: Read>(&mut self, r: &mut R) -> Result<Option<Pdv>, PduError> {
        if self.left == 0 {
            return Ok(None);
        }
        if self.left < 6 {
            return Err(PduError::Malformed("a PDV item header runs past the PDU"));
        }
        let mut h = [0u8; 6];
        r.read_exact(&mut h)?;
        let item = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        if item < 2 {
            return Err(PduError::Malformed("a PDV item shorter than its header"));
        }
        if item > self.left - 4 {
            return Err(PduError::Malformed("a PDV item runs past the PDU"));
        }
        self.left -= 4 + item;
        Ok(Some(Pdv {
            context: h[4],
            command: h[5] & 0x01 != 0,
            last: h[5] & 0x02 != 0,
            len: item - 2,
        }))
    }
}

/// Appends a PDV's value to `into`, reading it without zero-filling or an extra copy.
pub fn read_value<R: Read>(r: &mut R, pdv: &Pdv, into: &mut Vec<u8>) -> Result<(), PduError> {
    into.reserve(pdv.len as usize);
    let read = r.take(u64::from(pdv.len)).read_to_end(into)?;
    if read < pdv.len as usize {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pdu(pdvs: &[(u8, u8, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (pc, mch, value) in pdvs {
            body.extend_from_slice(&(value.len() as u32 + 2).to_be_bytes());
            body.push(*pc);
            body.push(*mch);
            body.extend_from_slice(value);
        }
        let mut out = vec![P_DATA_TF, 0];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend(body);
        out
    }

    /// Reads every PDV of a stream of PDUs into a command and a data buffer.
    fn read_all(mut bytes: &[u8], max: u32) -> Result<Vec<(Pdv, Vec<u8>)>, PduError> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let h = read_header(&mut bytes, max)?;
            let mut p = PData::new(h);
            while let Some(pdv) = p.next(&mut bytes)? {
                let mut v = Vec::new();
                read_value(&mut bytes, &pdv, &mut v)?;
                out.push((pdv, v));
            }
        }
        Ok(out)
    }

    #[test]
    fn pdvs_of_a_command_and_a_data_set_in_one_pdu_read_apart() {
        let bytes = pdu(&[
            (1, 0x03, b"command"),
            (1, 0x00, b"data, "),
            (3, 0x02, b"last"),
        ]);
        let got = read_all(&bytes, 1 << 20).unwrap();
        let heads: Vec<(u8, bool, bool)> = got
            .iter()
            .map(|(p, _)| (p.context, p.command, p.last))
            .collect();
        assert_eq!(
            heads,
            [(1, true, true), (1, false, false), (3, false, true)]
        );
        assert_eq!(got[1].1, b"data, ");
        assert_eq!(got[2].1, b"last");
    }

    #[test]
    fn malformed_and_oversized_pdus_are_errors() {
        let good = pdu(&[(1, 0x03, b"abc")]);
        assert!(matches!(
            read_all(&good, 4),
            Err(PduError::TooLarge { length: 9, max: 4 })
        ));
        // An item claiming more than the PDU holds.
        let mut long = good.clone();
        long[9] = 200;
        assert!(matches!(
            read_all(&long, 1 << 20),
            Err(PduError::Malformed(_))
        ));
        // An item shorter than its own header.
        let mut short = good.clone();
        short[9] = 1;
        assert!(matches!(
            read_all(&short, 1 << 20),
            Err(PduError::Malformed(_))
        ));
        // Cut off mid-value.
        assert!(matches!(
            read_all(&good[..good.len() - 1], 1 << 20),
            Err(PduError::Io(_))
        ));
    }

    proptest! {
        #[test]
        fn values_split_over_pdvs_and_pdus_come_back_whole(
            value in proptest::collection::vec(any::<u8>(), 0..5000),
            cut in 1usize..700,
        ) {
            let chunks: Vec<&[u8]> = if value.is_empty() { vec![&value[..]] } else { value.chunks(cut).collect() };
            let mut bytes = Vec::new();
            for (n, c) in chunks.iter().enumerate() {
                let last = if n + 1 == chunks.len() { 0x02 } else { 0 };
                bytes.extend(pdu(&[(5, last, c)]));
            }
            let got = read_all(&bytes, 1 << 20).unwrap();
            let joined: Vec<u8> = got.iter().flat_map(|(_, v)| v.clone()).collect();
            prop_assert_eq!(joined, value);
            prop_assert!(got.last().unwrap().0.last);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = read_all(&bytes, 1 << 16);
        }
    }
}
