//! Bounded capture of a child's output: the last bytes of a stream, and its
//! first bytes when the last do not hold all of it (a tool's first error
//! line often comes early, and a long output would push it out of the tail).

use std::collections::VecDeque;

use crate::{outcome::HEAD_LIMIT, redact::Redactor};

/// Keeps the first and the last `capacity` bytes written to it, and counts
/// all of them.
///
/// A chatty child never blocks on a full pipe because the reader keeps
/// draining, and memory stays bounded because old bytes are dropped.
#[derive(Debug)]
pub(crate) struct TailBuffer {
    head: Vec<u8>,
    bytes: VecDeque<u8>,
    capacity: usize,
    total: u64,
}

/// The redacted head and tail of one output stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CapturedOutput {
    /// The first bytes of the stream (up to [`HEAD_LIMIT`], ending at a line
    /// end where there is one) when `tail` does not hold all of it; else
    /// empty. Decoded and redacted like `tail`.
    pub(crate) head: String,
    /// How many bytes between `head` and `tail` were not kept.
    pub(crate) omitted: u64,
    /// The last bytes of the stream (about the output limit), lossily decoded
    /// as UTF-8, with secrets redacted.
    pub(crate) tail: String,
    /// Whether earlier output was dropped from `tail`.
    pub(crate) truncated: bool,
}

impl TailBuffer {
    /// A buffer keeping at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            head: Vec::new(),
            bytes: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            total: 0,
        }
    }

    /// Appends a chunk, dropping the oldest bytes beyond the capacity.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        // Bytes beyond `HEAD_LIMIT` (up to the capacity, which exceeds the
        // limit by the longest secret) let a secret at the head's end be
        // redacted whole.
        let room = (HEAD_LIMIT + self.capacity).saturating_sub(self.head.len());
        self.head.extend(&chunk[..room.min(chunk.len())]);
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
    /// boundary), decoded and redacted; when they are not the whole stream,
    /// also its first bytes up to [`HEAD_LIMIT`] and the count of those in
    /// between.
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
        let tail_len = u64::try_from(text.len() - cut).unwrap_or(u64::MAX);
        let (head, head_len) = if truncated {
            // The head ends where the tail begins, at the latest.
            let before_tail = self.total.saturating_sub(tail_len);
            let end = usize::try_from(before_tail)
                .unwrap_or(usize::MAX)
                .min(HEAD_LIMIT)
                .min(self.head.len());
            head_of(&self.head, end, redactor)
        } else {
            (String::new(), 0)
        };
        CapturedOutput {
            head,
            omitted: self.total.saturating_sub(tail_len).saturating_sub(head_len),
            tail: redactor.redact_from(&text, cut),
            truncated,
        }
    }
}

/// The first `end` bytes of `bytes` (fewer: back to the last line end, or
/// to a character boundary), decoded and redacted, with their length in the
/// stream. The bytes after `end` only help recognise a secret cut in two.
fn head_of(bytes: &[u8], end: usize, redactor: &Redactor) -> (String, u64) {
    let text = String::from_utf8_lossy(bytes);
    let mut end = end.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(newline) = text[..end].rfind('\n') {
        end = newline + 1;
    }
    let length = u64::try_from(end).unwrap_or(u64::MAX);
    (redactor.redact_until(&text, end), length)
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

    #[test]
    fn a_long_output_keeps_its_head_whole_lines_and_counts_the_gap() {
        let mut buffer = TailBuffer::new(8);
        buffer.push(b"error: first\nsecond line\n");
        buffer.push(&[b'x'; 100]);
        buffer.push(b"\nthe end");
        let output = buffer.finish(8, &Redactor::default());
        assert_eq!(output.tail, "\nthe end");
        assert_eq!(output.head, "error: first\nsecond line\n");
        assert_eq!(output.omitted, 100);
        assert!(output.truncated);
    }

    #[test]
    fn a_short_output_has_no_head() {
        let output = tail_of(&[b"error: boom\n"], 64, 64);
        assert_eq!(output.head, "");
        assert_eq!(output.omitted, 0);
    }

    #[test]
    fn the_head_never_overlaps_the_tail() {
        let output = tail_of(&[b"abcdef"], 4, 4);
        assert_eq!(output.tail, "cdef");
        assert_eq!(output.head, "ab");
        assert_eq!(output.omitted, 0);
    }

    #[test]
    fn the_head_is_bounded() {
        let line = format!("{}\n", "y".repeat(99));
        let text = line.repeat(100);
        let mut buffer = TailBuffer::new(16);
        buffer.push(text.as_bytes());
        let output = buffer.finish(16, &Redactor::default());
        assert!(output.head.len() <= HEAD_LIMIT);
        assert!(output.head.ends_with('\n'));
        assert_eq!(
            u64::try_from(output.head.len() + output.tail.len()).expect("small") + output.omitted,
            u64::try_from(text.len()).expect("small")
        );
    }

    #[test]
    fn secret_cut_by_the_head_limit_is_redacted_whole() {
        let secret = "s3cr3t-value";
        let redactor = Redactor::builder().value(secret).build();
        let mut text = "a".repeat(HEAD_LIMIT - 4);
        text.push_str(secret);
        text.push_str(&"b".repeat(100));
        let mut buffer = TailBuffer::new(10 + secret.len());
        buffer.push(text.as_bytes());
        let output = buffer.finish(10, &redactor);
        assert!(
            output.head.ends_with("[REDACTED]"),
            "{}",
            &output.head[HEAD_LIMIT - 10..]
        );
        assert!(!output.head.contains("s3cr"));
    }
}
