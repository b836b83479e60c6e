//! Data set buffers that go round: an association fills one, the materializer writes it
//! to its file and hands it back for the next instance.
//!
//! Why: a fresh buffer of half a megabyte is fresh memory, and the kernel faults it in a
//! page at a time as the data set is copied into it, then takes it back when it is
//! freed. Measured on 0.5 MB instances over four associations, those page faults were
//! about a sixth of the receiving threads' time. A buffer that was filled before costs
//! none of that.

use std::sync::Mutex;

/// At most this many bytes of buffers wait for reuse (the rest are freed): enough for a
/// few dozen large instances in flight, small beside the materializer's backlog bound.
const KEPT_BYTES: usize = 64 << 20;

#[derive(Default)]
pub(crate) struct Buffers {
    free: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl Buffers {
    /// An empty buffer that holds at least `capacity` bytes without growing.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let reused = {
            let mut kept = self.free.lock().unwrap_or_else(|p| p.into_inner());
            let buffer = kept.buffers.pop();
            if let Some(b) = &buffer {
                kept.bytes -= b.capacity();
            }
            buffer
        };
        match reused {
            Some(mut b) => {
                b.reserve(capacity);
                b
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Keeps `buffer` for a later [`Buffers::take`], unless enough are kept already.
    pub fn give(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut kept = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if buffer.capacity() > 0 && kept.bytes + buffer.capacity() <= KEPT_BYTES {
            kept.bytes += buffer.capacity();
            kept.buffers.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_empty_and_large_enough() {
        let pool = Buffers::default();
        let mut b = pool.take(1000);
        assert!(b.capacity() >= 1000);
        b.extend_from_slice(&[7; 1000]);
        let at = b.as_ptr();
        pool.give(b);
        let again = pool.take(500);
        assert_eq!(again.as_ptr(), at, "the same memory");
        assert!(again.is_empty());
        let larger = {
            pool.give(again);
            pool.take(5000)
        };
        assert!(larger.capacity() >= 5000);
    }

    #[test]
    fn the_pool_keeps_no_more_than_its_bound() {
        let pool = Buffers::default();
        for _ in 0..3 {
            pool.give(Vec::with_capacity(KEPT_BYTES / 2));
        }
        let kept = pool.free.lock().unwrap();
        assert_eq!(kept.buffers.len(), 2);
        assert_eq!(
            kept.bytes,
            kept.buffers.iter().map(Vec::capacity).sum::<usize>()
        );
    }
}
