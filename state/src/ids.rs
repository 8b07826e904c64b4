//! Identifiers minted by the store: [`RunId`] and [`AttemptId`], and the
//! short forms of run ids ([`ShortRunIds`]).
//!
//! A run id is a 26-character ULID-style string: 48 bits of unix milliseconds
//! followed by 80 random bits, in Crockford base32. Ids therefore sort by
//! creation time and are unique without coordination. The randomness comes
//! from `/dev/urandom` where it exists and from std's randomly keyed
//! `RandomState` otherwise; no extra crate is involved.
//!
//! On the command line a run is named by its full id, a unique prefix of it,
//! or its *short form*: the shortest end of the id, at least
//! [`SHORT_RUN_ID_MIN_LEN`] characters, that names no other run of the state
//! file (like git's abbreviated hashes). Prefixes are shared by every run
//! created in the same weeks (`01M8...`); the end of the id is random, so six
//! characters almost always suffice. A short form grows only when a later run
//! happens to share it.

use std::{
    collections::HashMap,
    fmt,
    hash::{BuildHasher, Hasher},
    str::FromStr,
    sync::atomic::{AtomicU64, Ordering},
};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

use crate::{
    Store,
    error::{StoreError, sqlite},
};

/// The Crockford base32 alphabet: digits and capitals without `I`, `L`, `O`, `U`.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Length of a run id in characters.
pub const RUN_ID_LEN: usize = 26;

/// The id of a run: 26 Crockford base32 characters, sortable by creation time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

/// The error of [`RunId::from_str`]: the text is not a run id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a run id: expected 26 Crockford base32 characters")]
pub struct InvalidRunId {
    /// The rejected text.
    pub text: String,
}

impl RunId {
    /// Mints a new id whose time part is `at_millis` (clamped to 0..2^48).
    pub fn generate(at_millis: i64) -> Self {
        let time = u128::from(u64::try_from(at_millis).unwrap_or(0).min((1 << 48) - 1));
        let value = (time << 80) | (random_u128() & ((1 << 80) - 1));
        let text = (0..RUN_ID_LEN)
            .rev()
            .map(|digit| char::from(CROCKFORD[((value >> (digit * 5)) & 31) as usize]))
            .collect();
        Self(text)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last `length` characters of the id (all of it when `length` is
    /// larger).
    pub fn suffix(&self, length: usize) -> &str {
        &self.0[RUN_ID_LEN.saturating_sub(length)..]
    }

    /// The unix milliseconds encoded in the first ten characters.
    pub fn timestamp_millis(&self) -> i64 {
        self.0.bytes().take(10).fold(0_i64, |time, byte| {
            (time << 5) | i64::from(crockford_value(byte).unwrap_or(0))
        })
    }
}

/// The value of one Crockford digit, accepting lowercase.
fn crockford_value(byte: u8) -> Option<u8> {
    let upper = byte.to_ascii_uppercase();
    CROCKFORD
        .iter()
        .position(|&digit| digit == upper)
        .and_then(|value| u8::try_from(value).ok())
}

/// Whether `text` could be the start of a run id (used for prefix lookups).
pub(crate) fn is_run_id_prefix(text: &str) -> bool {
    text.len() <= RUN_ID_LEN
        && text.bytes().all(|byte| crockford_value(byte).is_some())
        && text.bytes().next().is_none_or(|first| first <= b'7')
}

impl FromStr for RunId {
    type Err = InvalidRunId;

    /// Parses a full run id; lowercase is accepted and normalized to uppercase.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() == RUN_ID_LEN && is_run_id_prefix(text) {
            Ok(Self(text.to_ascii_uppercase()))
        } else {
            Err(InvalidRunId {
                text: text.to_owned(),
            })
        }
    }
}

impl TryFrom<String> for RunId {
    type Error = InvalidRunId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> Self {
        id.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl ToSql for RunId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.as_str()))
    }
}

impl FromSql for RunId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

/// The shortest length of a run id's short form.
pub const SHORT_RUN_ID_MIN_LEN: usize = 6;

/// The shortest input that [`crate::Store::resolve_run`] matches against the
/// end of run ids; shorter inputs are only prefixes.
pub(crate) const MIN_SUFFIX_LOOKUP_LEN: usize = 4;

/// Selects the runs whose id ends with `?2`, of length `-?1`.
pub(crate) const RESOLVE_RUN_SUFFIX: &str =
    "SELECT id FROM runs WHERE substr(id, ?1) = ?2 ORDER BY id LIMIT ?3";

/// Whether `text` could be the end of a run id (used for short-form lookups).
pub(crate) fn is_run_id_suffix(text: &str) -> bool {
    (MIN_SUFFIX_LOOKUP_LEN..=RUN_ID_LEN).contains(&text.len())
        && text.bytes().all(|byte| crockford_value(byte).is_some())
}

/// The short forms of a set of run ids (all the runs of a state file): for
/// each id, its shortest end of at least [`SHORT_RUN_ID_MIN_LEN`] characters
/// that is neither the end nor the start of any other id, so that it resolves
/// to that run alone.
#[derive(Clone, Debug, Default)]
pub struct ShortRunIds {
    lengths: HashMap<RunId, usize>,
}

impl ShortRunIds {
    /// Computes the short forms of `ids`.
    pub fn new(ids: impl IntoIterator<Item = RunId>) -> Self {
        let mut by_start: Vec<RunId> = ids.into_iter().collect();
        by_start.sort_unstable();
        by_start.dedup();
        // Neighbours in the order of the reversed ids share the longest ends.
        let mut by_end: Vec<&RunId> = by_start.iter().collect();
        by_end.sort_unstable_by(|a, b| a.0.bytes().rev().cmp(b.0.bytes().rev()));
        let mut needed: HashMap<&RunId, usize> = HashMap::with_capacity(by_end.len());
        for pair in by_end.windows(2) {
            let common = pair[0]
                .0
                .bytes()
                .rev()
                .zip(pair[1].0.bytes().rev())
                .take_while(|(a, b)| a == b)
                .count();
            for id in pair {
                let entry = needed.entry(id).or_insert(SHORT_RUN_ID_MIN_LEN);
                *entry = (*entry).max(common + 1);
            }
        }
        let lengths = by_start
            .iter()
            .map(|id| {
                let mut length = needed
                    .get(id)
                    .copied()
                    .unwrap_or(SHORT_RUN_ID_MIN_LEN)
                    .min(RUN_ID_LEN);
                while length < RUN_ID_LEN && starts_another(&by_start, id, id.suffix(length)) {
                    length += 1;
                }
                (id.clone(), length)
            })
            .collect();
        Self { lengths }
    }

    /// The short form of `id`; the shortest end of it when it is not one of
    /// the ids this was computed from (a run created since).
    pub fn get<'id>(&self, id: &'id RunId) -> &'id str {
        id.suffix(
            self.lengths
                .get(id)
                .copied()
                .unwrap_or(SHORT_RUN_ID_MIN_LEN),
        )
    }
}

/// Whether an id of `sorted` other than `id` starts with `text`.
fn starts_another(sorted: &[RunId], id: &RunId, text: &str) -> bool {
    let first = sorted.partition_point(|other| other.0.as_str() < text);
    sorted[first..]
        .iter()
        .take_while(|other| other.0.starts_with(text))
        .any(|other| other != id)
}

/// The id of one attempt (one started action), unique across the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttemptId(pub i64);

impl AttemptId {
    /// The id as an integer.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl ToSql for AttemptId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0))
    }
}

impl FromSql for AttemptId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_i64().map(Self)
    }
}

impl Store {
    /// The short forms of every run id in the store.
    pub fn short_run_ids(&self) -> Result<ShortRunIds, StoreError> {
        let ids: Vec<RunId> = self
            .connection
            .prepare_cached("SELECT id FROM runs")
            .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
            .map_err(sqlite("list run ids"))?;
        Ok(ShortRunIds::new(ids))
    }

    /// The short form of one run's id.
    pub fn short_run_id(&self, run: &RunId) -> Result<String, StoreError> {
        Ok(self.short_run_ids()?.get(run).to_owned())
    }
}

/// 128 random bits: `/dev/urandom`, else std's randomly keyed hasher.
fn random_u128() -> u128 {
    #[cfg(unix)]
    {
        use std::io::Read;

        let mut bytes = [0_u8; 16];
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut file| file.read_exact(&mut bytes))
            .is_ok()
        {
            return u128::from_le_bytes(bytes);
        }
    }
    hashed_random_u128()
}

/// A fallback source of randomness: `RandomState` is keyed from the operating
/// system's generator once per process and varied per instance; the counter
/// and the clock make successive calls differ even if the keys did not.
fn hashed_random_u128() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let mut halves = [0_u64; 2];
    for (index, half) in halves.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(count);
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_usize(index);
        *half = hasher.finish();
    }
    (u128::from(halves[0]) << 64) | u128::from(halves[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time_and_round_trip() {
        let early = RunId::generate(1_700_000_000_000);
        let late = RunId::generate(1_700_000_000_001);
        assert!(early < late);
        assert_eq!(early.as_str().len(), RUN_ID_LEN);
        assert_eq!(early.timestamp_millis(), 1_700_000_000_000);
        assert_eq!(early.as_str().parse::<RunId>(), Ok(early.clone()));
        assert_eq!(
            early.as_str().to_ascii_lowercase().parse::<RunId>(),
            Ok(early.clone())
        );
        assert_ne!(RunId::generate(5), RunId::generate(5));
        assert_eq!(RunId::generate(-1).timestamp_millis(), 0);
    }

    #[test]
    fn invalid_run_ids_are_rejected() {
        for text in [
            "",
            "01J",
            "01J9ZZZZZZZZZZZZZZZZZZZZZU",
            "81J9ZZZZZZZZZZZZZZZZZZZZZZ",
        ] {
            assert!(text.parse::<RunId>().is_err(), "{text}");
        }
        assert!(is_run_id_prefix("01j9"));
        assert!(!is_run_id_prefix("01I"));
    }

    /// A run id made of `start`, zeros, and `end`.
    fn id(start: &str, end: &str) -> RunId {
        let zeros = "0".repeat(RUN_ID_LEN - start.len() - end.len());
        format!("{start}{zeros}{end}")
            .parse()
            .expect("a valid run id")
    }

    #[test]
    fn short_forms_are_the_shortest_unique_ends() {
        let alone = id("01M8Z", "ABCD");
        let twin = id("01M8Z", "K7QWXY");
        let other_twin = id("01M8Z", "J7QWXY");
        let triplet = [id("01M8Z", "1A2B3C4D"), id("01M8Z", "9A2B3C4D")];
        // The end of `ends_like_a_start` is how `later` starts.
        let ends_like_a_start = id("01M8Z", "7ZZZZZ");
        let later = id("7ZZZZZ", "5");
        let ids = ShortRunIds::new(
            [
                &alone,
                &twin,
                &other_twin,
                &triplet[0],
                &triplet[1],
                &ends_like_a_start,
                &later,
            ]
            .into_iter()
            .cloned(),
        );
        assert_eq!(ids.get(&alone), "00ABCD");
        assert_eq!(ids.get(&twin), "K7QWXY");
        assert_eq!(ids.get(&other_twin), "J7QWXY");
        assert_eq!(ids.get(&triplet[0]), "1A2B3C4D");
        assert_eq!(ids.get(&triplet[1]), "9A2B3C4D");
        assert_eq!(ids.get(&ends_like_a_start), "07ZZZZZ");
        assert_eq!(ids.get(&later), "000005");
        let unknown = id("01M9", "QQ");
        assert_eq!(ids.get(&unknown), "0000QQ");
        assert_eq!(ids.get(&unknown).len(), SHORT_RUN_ID_MIN_LEN);
    }

    #[test]
    fn hashed_randomness_differs_between_calls() {
        assert_ne!(hashed_random_u128(), hashed_random_u128());
    }
}
