//! The trust key format: minting, the checksum a secret scanner verifies offline, the hash
//! the hub stores.
//!
//! `<prefix>_<payload>_<checksum>`, e.g. `hubk_3fQ…(43 chars)…_0aZ9bC`:
//! - `prefix`: `trusts.key_prefix` (1–16 ASCII letters or digits, e.g. `hubk`);
//! - `payload`: [`KEY_PAYLOAD_LEN`] characters of `[0-9A-Za-z]`, each drawn uniformly from the
//!   62-character alphabet by rejection sampling — 43 × log2(62) ≈ 256.03 bits of entropy;
//! - `checksum`: the CRC-32 (IEEE) of the ASCII bytes `<prefix>_<payload>`, written as
//!   [`KEY_CHECKSUM_LEN`] base-62 digits (most significant first, alphabet `0-9A-Za-z`).
//!
//! A secret scanner matches `hubk_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}` and confirms a hit offline
//! with [`verify_key`], which rejects any single changed character.

use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::domain::secret::Secret;

/// Base-62 alphabet of payload and checksum.
pub const KEY_ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Payload characters: 43 × log2(62) ≈ 256.03 bits.
pub const KEY_PAYLOAD_LEN: usize = 43;
/// Checksum characters: 62^6 > 2^32, so every CRC-32 value fits.
pub const KEY_CHECKSUM_LEN: usize = 6;

/// Why a string is not a well-formed key.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum KeyFormatError {
    #[error("not of the form <prefix>_<payload>_<checksum>")]
    Shape,
    #[error("unexpected prefix")]
    Prefix,
    #[error("payload must be {KEY_PAYLOAD_LEN} characters of [0-9A-Za-z]")]
    Payload,
    #[error("checksum must be {KEY_CHECKSUM_LEN} characters of [0-9A-Za-z]")]
    ChecksumShape,
    #[error("checksum mismatch")]
    Checksum,
}

/// Whether `prefix` is a valid key prefix (1–16 ASCII letters or digits).
pub fn valid_key_prefix(prefix: &str) -> bool {
    (1..=16).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn base62_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 36),
        _ => None,
    }
}

/// CRC-32 of `<prefix>_<payload>` as six base-62 digits.
pub fn key_checksum(prefix: &str, payload: &str) -> String {
    let mut h = crc32fast::Hasher::new();
    h.update(prefix.as_bytes());
    h.update(b"_");
    h.update(payload.as_bytes());
    let mut n = h.finalize();
    let mut out = [b'0'; KEY_CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = KEY_ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// Checks a key's shape and checksum offline. `expected_prefix` None accepts any valid prefix.
pub fn verify_key(key: &str, expected_prefix: Option<&str>) -> Result<(), KeyFormatError> {
    let mut parts = key.split('_');
    let (Some(prefix), Some(payload), Some(checksum), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(KeyFormatError::Shape);
    };
    if !valid_key_prefix(prefix) || expected_prefix.is_some_and(|p| p != prefix) {
        return Err(KeyFormatError::Prefix);
    }
    if payload.len() != KEY_PAYLOAD_LEN || payload.bytes().any(|b| base62_value(b).is_none()) {
        return Err(KeyFormatError::Payload);
    }
    if checksum.len() != KEY_CHECKSUM_LEN || checksum.bytes().any(|b| base62_value(b).is_none()) {
        return Err(KeyFormatError::ChecksumShape);
    }
    // Constant-shape comparison of the expected checksum (not secret, but cheap to do right).
    let expected = key_checksum(prefix, payload);
    if expected
        .bytes()
        .zip(checksum.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
    {
        Ok(())
    } else {
        Err(KeyFormatError::Checksum)
    }
}

/// Mints one key `<prefix>_<payload>_<checksum>` from `rng` (the service passes the OS CSPRNG).
/// Every intermediate buffer is zeroized; the plaintext leaves only inside a [`Secret`].
pub fn mint_key<R>(prefix: &str, rng: &mut R) -> Result<Secret, R::Error>
where
    R: rand::TryCryptoRng + ?Sized,
{
    let mut key = Zeroizing::new(String::with_capacity(
        prefix.len() + KEY_PAYLOAD_LEN + KEY_CHECKSUM_LEN + 2,
    ));
    key.push_str(prefix);
    key.push('_');
    let mut buf = Zeroizing::new([0u8; 64]);
    let mut produced = 0;
    while produced < KEY_PAYLOAD_LEN {
        rng.try_fill_bytes(&mut buf[..])?;
        for &b in buf.iter() {
            // 248 = 4 × 62: rejection sampling keeps every character uniform.
            if b < 248 && produced < KEY_PAYLOAD_LEN {
                key.push(char::from(KEY_ALPHABET[usize::from(b % 62)]));
                produced += 1;
            }
        }
    }
    let checksum = key_checksum(prefix, &key[prefix.len() + 1..]);
    key.push('_');
    key.push_str(&checksum);
    Ok(Secret::new(std::mem::take(&mut *key)))
}

/// `api_key_hash`: lowercase hex SHA-256 of the key's UTF-8 bytes (64 characters).
pub fn api_key_hash(key: &Secret) -> String {
    let digest = Sha256::digest(key.expose().as_bytes());
    hex::encode(digest.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_verify_and_hash() {
        let mut rng = rand::rngs::SysRng;
        let k = mint_key("hubk", &mut rng).unwrap();
        let s = k.expose();
        assert!(s.starts_with("hubk_"));
        assert_eq!(s.len(), 4 + 1 + KEY_PAYLOAD_LEN + 1 + KEY_CHECKSUM_LEN);
        assert_eq!(verify_key(s, Some("hubk")), Ok(()));
        assert_eq!(verify_key(s, Some("other")), Err(KeyFormatError::Prefix));
        let h = api_key_hash(&k);
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let k2 = mint_key("hubk", &mut rng).unwrap();
        assert_ne!(k.expose(), k2.expose());
        assert!(!format!("{k:?}").contains(s));
    }

    #[test]
    fn known_hash() {
        // SHA-256("abc")
        assert_eq!(
            api_key_hash(&Secret::new("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    proptest::proptest! {
        /// Any single changed character (to any other printable ASCII character) is detected.
        #[test]
        fn checksum_detects_one_changed_character(pos in 0usize..55, replacement in 0x21u8..0x7f) {
            let mut rng = rand::rngs::SysRng;
            let key = mint_key("hubk", &mut rng).unwrap();
            let mut bytes = key.expose().as_bytes().to_vec();
            let pos = pos % bytes.len();
            proptest::prop_assume!(bytes[pos] != replacement);
            bytes[pos] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            proptest::prop_assert!(verify_key(&changed, None).is_err());
            proptest::prop_assert!(verify_key(&changed, Some("hubk")).is_err());
        }
    }
}
