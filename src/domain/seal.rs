//! The arithmetic of a sealed audit trail, with no I/O.
//!
//! Audit rows are taken in one total order — the transaction that wrote them, then the table,
//! then the row id ([`RowKey`]) — and cut into seals. A seal records the last row it covers, how
//! many rows it covers, a digest over each row's digest ([`rows_digest`]) and a compact list of
//! the rows ([`encode_row_list`]: key and the first bytes of the row's digest), so a verifier can
//! name what changed, not only that something did. Each seal's [`chain_hash`] covers the previous
//! seal's hash: removing, editing or reordering a seal breaks the chain, and the chain hash is
//! what the Ed25519 signature (made with a key the database never holds) signs.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The audit tables in their place in the seal order.
pub const SOURCES: [(i16, &str); 3] = [
    (1, "mandate_audit"),
    (2, "users_audit"),
    (3, "trusts_audit"),
];

/// The table name of a source number ("unknown" for a number no table has).
pub fn source_name(source: i16) -> &'static str {
    SOURCES
        .iter()
        .find(|(n, _)| *n == source)
        .map(|(_, name)| *name)
        .unwrap_or("unknown")
}

/// A row's place in the seal order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    /// The transaction that wrote the row (64-bit, never reused).
    pub txid: i64,
    /// Which audit table ([`SOURCES`]).
    pub source: i16,
    pub id: Uuid,
}

impl std::fmt::Display for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", source_name(self.source), self.id)
    }
}

/// A row as the seal sees it: its key and the SHA-256 of its canonical text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowDigest {
    pub key: RowKey,
    pub digest: [u8; 32],
}

/// Bytes of each row's digest kept in a seal's row list: enough to tell an edited row from an
/// intact one by chance once in 2^64, small enough that a seal of 50,000 rows lists them in
/// 1.7 MB.
pub const LISTED_DIGEST: usize = 8;
const LIST_ENTRY: usize = 8 + 2 + 16 + LISTED_DIGEST;

/// SHA-256 over every row's key and full digest, in order.
pub fn rows_digest(rows: &[RowDigest]) -> [u8; 32] {
    let mut h = Sha256::new();
    for r in rows {
        h.update(r.key.txid.to_be_bytes());
        h.update(r.key.source.to_be_bytes());
        h.update(r.key.id.as_bytes());
        h.update(r.digest);
    }
    h.finalize().into()
}

/// The rows of a seal, as stored beside it: key and the first [`LISTED_DIGEST`] digest bytes.
pub fn encode_row_list(rows: &[RowDigest]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * LIST_ENTRY);
    for r in rows {
        out.extend_from_slice(&r.key.txid.to_be_bytes());
        out.extend_from_slice(&r.key.source.to_be_bytes());
        out.extend_from_slice(r.key.id.as_bytes());
        out.extend_from_slice(&r.digest[..LISTED_DIGEST]);
    }
    out
}

/// A listed row: key and digest prefix.
pub type ListedRow = (RowKey, [u8; LISTED_DIGEST]);

/// The inverse of [`encode_row_list`]; None when the bytes are not a whole list.
pub fn decode_row_list(bytes: &[u8]) -> Option<Vec<ListedRow>> {
    if !bytes.len().is_multiple_of(LIST_ENTRY) {
        return None;
    }
    let rows = bytes
        .chunks_exact(LIST_ENTRY)
        .map(|c| {
            let txid = i64::from_be_bytes(c[0..8].try_into().unwrap_or_default());
            let source = i16::from_be_bytes(c[8..10].try_into().unwrap_or_default());
            let id = Uuid::from_slice(&c[10..26]).unwrap_or_default();
            let mut d = [0u8; LISTED_DIGEST];
            d.copy_from_slice(&c[26..]);
            (RowKey { txid, source, id }, d)
        })
        .collect();
    Some(rows)
}

/// What a seal commits to. Its [`chain_hash`] is what gets signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealBody {
    pub seq: i64,
    /// Every transaction below this id had finished when the seal was made.
    pub horizon: i64,
    pub last: RowKey,
    pub row_count: i64,
    pub rows_digest: [u8; 32],
    pub prev_hash: [u8; 32],
}

/// The hash of the seal before the first one.
pub const GENESIS: [u8; 32] = [0; 32];

/// SHA-256 over a version tag and every field of the seal, the previous seal's hash included.
pub fn chain_hash(b: &SealBody) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"hubdeck audit seal v1\0");
    h.update(b.seq.to_be_bytes());
    h.update(b.horizon.to_be_bytes());
    h.update(b.last.txid.to_be_bytes());
    h.update(b.last.source.to_be_bytes());
    h.update(b.last.id.as_bytes());
    h.update(b.row_count.to_be_bytes());
    h.update(b.rows_digest);
    h.update(b.prev_hash);
    h.finalize().into()
}

/// One difference between what a seal listed and the rows in its range now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The row is there with other content.
    Edited(RowKey),
    /// The row is gone from the seal's range.
    Removed(RowKey),
    /// A row in the sealed range that the seal did not list (written into a sealed period).
    Inserted(RowKey),
    /// The same row id now sits elsewhere in the order (its transaction id was rewritten).
    Moved { from: RowKey, to: RowKey },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Edited(k) => write!(f, "edited: {k}"),
            Finding::Removed(k) => write!(f, "removed: {k}"),
            Finding::Inserted(k) => write!(f, "inserted into a sealed period: {k}"),
            Finding::Moved { from, to } => write!(
                f,
                "reordered: {from} moved from transaction {} to {}",
                from.txid, to.txid
            ),
        }
    }
}

/// Compares a seal's listed rows with the rows its range holds now (both in seal order).
pub fn compare(listed: &[ListedRow], now: &[RowDigest]) -> Vec<Finding> {
    use std::collections::HashMap;
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut removed = Vec::new();
    let mut inserted = Vec::new();
    while i < listed.len() || j < now.len() {
        match (listed.get(i), now.get(j)) {
            (Some((lk, ld)), Some(n)) if *lk == n.key => {
                if ld[..] != n.digest[..LISTED_DIGEST] {
                    out.push(Finding::Edited(*lk));
                }
                i += 1;
                j += 1;
            }
            (Some((lk, _)), Some(n)) if *lk < n.key => {
                removed.push(*lk);
                i += 1;
            }
            (Some(_), Some(n)) => {
                inserted.push(n.key);
                j += 1;
            }
            (Some((lk, _)), None) => {
                removed.push(*lk);
                i += 1;
            }
            (None, Some(n)) => {
                inserted.push(n.key);
                j += 1;
            }
            (None, None) => break,
        }
    }
    let mut by_id: HashMap<(i16, Uuid), RowKey> =
        inserted.iter().map(|k| ((k.source, k.id), *k)).collect();
    for k in removed {
        match by_id.remove(&(k.source, k.id)) {
            Some(to) => out.push(Finding::Moved { from: k, to }),
            None => out.push(Finding::Removed(k)),
        }
    }
    let mut rest: Vec<RowKey> = by_id.into_values().collect();
    rest.sort();
    out.extend(rest.into_iter().map(Finding::Inserted));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(txid: i64, source: i16, n: u128, content: u8) -> RowDigest {
        RowDigest {
            key: RowKey {
                txid,
                source,
                id: Uuid::from_u128(n),
            },
            digest: [content; 32],
        }
    }

    #[test]
    fn the_row_list_round_trips() {
        let rows = vec![row(0, 1, 1, 7), row(5, 3, 2, 9)];
        let listed = decode_row_list(&encode_row_list(&rows)).expect("whole list");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].0, rows[1].key);
        assert_eq!(listed[1].1, [9; LISTED_DIGEST]);
        assert!(decode_row_list(&[1, 2, 3]).is_none());
    }

    #[test]
    fn every_field_of_a_seal_changes_its_hash() {
        let base = SealBody {
            seq: 1,
            horizon: 10,
            last: row(9, 2, 3, 0).key,
            row_count: 4,
            rows_digest: [1; 32],
            prev_hash: GENESIS,
        };
        let h = chain_hash(&base);
        let variants = [
            SealBody {
                seq: 2,
                ..base.clone()
            },
            SealBody {
                horizon: 11,
                ..base.clone()
            },
            SealBody {
                last: row(9, 2, 4, 0).key,
                ..base.clone()
            },
            SealBody {
                row_count: 5,
                ..base.clone()
            },
            SealBody {
                rows_digest: [2; 32],
                ..base.clone()
            },
            SealBody {
                prev_hash: [3; 32],
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(chain_hash(&v), h, "{v:?}");
        }
    }

    #[test]
    fn compare_names_each_kind_of_change() {
        let sealed = vec![
            row(1, 1, 1, 1),
            row(1, 2, 2, 2),
            row(2, 1, 3, 3),
            row(3, 3, 4, 4),
        ];
        let listed = decode_row_list(&encode_row_list(&sealed)).expect("list");
        assert!(compare(&listed, &sealed).is_empty());
        // Row 2 edited, row 3 removed, row 4 moved to another transaction, row 5 inserted.
        let now = vec![
            row(1, 1, 1, 1),
            row(1, 2, 2, 9),
            row(1, 3, 5, 5),
            row(2, 3, 4, 4),
        ];
        let f = compare(&listed, &now);
        assert!(f.contains(&Finding::Edited(sealed[1].key)), "{f:?}");
        assert!(f.contains(&Finding::Removed(sealed[2].key)), "{f:?}");
        assert!(
            f.contains(&Finding::Moved {
                from: sealed[3].key,
                to: now[3].key
            }),
            "{f:?}"
        );
        assert!(f.contains(&Finding::Inserted(now[2].key)), "{f:?}");
        assert_eq!(f.len(), 4, "{f:?}");
    }

    #[test]
    fn rows_digest_depends_on_order_and_content() {
        let a = row(1, 1, 1, 1);
        let b = row(1, 1, 2, 2);
        assert_ne!(rows_digest(&[a, b]), rows_digest(&[b, a]));
        assert_ne!(rows_digest(&[a, b]), rows_digest(&[a, row(1, 1, 2, 3)]));
    }
}
