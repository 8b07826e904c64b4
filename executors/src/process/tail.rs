//! Bounded capture of a child's output: the last bytes of a stream.

use std::collections::VecDeque;

use crate::redact::Redactor;

/// Keeps the last `capacity` bytes written to it, and counts all of them.
///
/// A chatty child never blocks on a full pipe because the reader keeps
/// draining, and memory stays bounded because old bytes are dropped.
#[derive(Debug)]
pub(crate) struct TailBuffer {
    bytes: VecDeque<u8>,
    capacity: usize,
    total: u64,
}

/// The redacted tail of one output stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CapturedOutput {
    /// The last bytes of the stream (about the output limit), lossily decoded
    /// as UTF-8, with secrets redacted.
    pub(crate) tail: String,
    /// Whether earlier output was dropped.
    pub(crate) truncated: bool,
}

impl TailBuffer {
    /// A buffer keeping at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bytes: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            total: 0,
        }
    }

    /// Appends a chunk, dropping the oldest bytes beyond the capacity.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.total = self
            .total
            .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        if chunk.len() >= self.capacity {
            self.bytes.clear();
            self.bytes.extend(&chunk[chunk.len() - self.capacity..]);
            return;
        }
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The last `limit` bytes (roughly: the cut moves to a character
    /// boundary), decoded and redacted.
    ///
    /// The buffer's capacity should exceed `limit` by the length of the
    /// longest secret, so that a secret cut in two by the limit is still
    /// recognised in full and redacted rather than shown in part.
    pub(crate) fn finish(mut self, limit: usize, redactor: &Redactor) -> CapturedOutput {
        let truncated = self.total > u64::try_from(limit).unwrap_or(u64::MAX);
        let text = String::from_utf8_lossy(self.bytes.make_contiguous());
        let mut cut = if truncated {
            text.len().saturating_sub(limit)
        } else {
            0
        };
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        CapturedOutput {
            tail: redactor.redact_from(&text, cut),
            truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(chunks: &[&[u8]], capacity: usize, limit: usize) -> CapturedOutput {
        let mut buffer = TailBuffer::new(capacity);
        for chunk in chunks {
            buffer.push(chunk);
        }
        buffer.finish(limit, &Redactor::default())
    }

    #[test]
    fn short_output_is_kept_whole() {
        let output = tail_of(&[b"hello ", b"world"], 16, 16);
        assert_eq!(output.tail, "hello world");
        assert!(!output.truncated);
    }

    #[test]
    fn long_output_keeps_the_tail() {
        let output = tail_of(&[b"0123456789", b"abcdef", b"XYZ"], 8, 8);
        assert_eq!(output.tail, "bcdefXYZ");
        assert!(output.truncated);
        let output = tail_of(&[b"0123456789abcdefghij"], 4, 4);
        assert_eq!(output.tail, "ghij");
    }

    #[test]
    fn output_exactly_at_the_limit_is_not_truncated() {
        let output = tail_of(&[b"0123", b"4567"], 8, 8);
        assert_eq!(output.tail, "01234567");
        assert!(!output.truncated);
    }

    #[test]
    fn zero_limit_keeps_nothing() {
        let output = tail_of(&[b"abc"], 0, 0);
        assert_eq!(output.tail, "");
        assert!(output.truncated);
    }

    #[test]
    fn cut_moves_to_a_character_boundary() {
        let output = tail_of(&["aé".as_bytes()], 2, 2);
        assert_eq!(output.tail, "é");
        let output = tail_of(&["éé".as_bytes()], 3, 3);
        assert_eq!(output.tail, "é");
    }

    #[test]
    fn secret_cut_by_the_limit_is_redacted_whole() {
        let redactor = Redactor::builder().value("hunter2").build();
        let mut buffer = TailBuffer::new(5 + "hunter2".len());
        buffer.push(b"password: hunter2 ok");
        let output = buffer.finish(5, &redactor);
        assert_eq!(output.tail, "[REDACTED] ok");
        assert!(output.truncated);
    }
}
