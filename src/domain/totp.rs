//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 6 digits, 30-second
//! steps — what Cognito's software tokens and every authenticator app use), the `otpauth://`
//! enrolment URI and its QR code drawn as text. No I/O.
//!
//! Secrets and codes live in zeroize-on-drop types whose `Debug` is redacted; nothing here is
//! ever logged.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{Secret, ValidationError};

/// Seconds per TOTP step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Secret length minted by hubdeck's local directory (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP shared secret (raw key bytes). Zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw key. Call sites are the only places it is visible; keep them few.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::RngExt::fill(&mut rand::rng(), &mut bytes[..]);
        Self(bytes)
    }

    /// Parses the base32 form authenticator apps and Cognito's `AssociateSoftwareToken` use
    /// (case-insensitive, padding and spaces ignored).
    pub fn from_base32(text: &str) -> Result<Self, ValidationError> {
        let bad = |message: &str| ValidationError::Invalid {
            field: "TOTP secret",
            message: message.into(),
        };
        let mut out = Vec::with_capacity(text.len() * 5 / 8);
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        for c in text.bytes() {
            if c == b'=' || c == b' ' {
                continue;
            }
            let v = BASE32
                .iter()
                .position(|&b| b == c.to_ascii_uppercase())
                .ok_or_else(|| bad("not base32 (A–Z, 2–7)"))?;
            acc = (acc << 5) | v as u64;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1u64 << bits) - 1;
            }
        }
        acc.zeroize();
        if out.is_empty() {
            return Err(bad("empty"));
        }
        Ok(Self(out))
    }

    /// The base32 text (no padding), as typed into an authenticator app.
    pub fn to_base32(&self) -> Secret {
        let mut out = String::with_capacity(self.0.len() * 8 / 5 + 1);
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        for &b in &self.0 {
            acc = (acc << 8) | u64::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(BASE32[((acc >> bits) & 31) as usize] as char);
            }
            acc &= (1u64 << bits) - 1;
        }
        if bits > 0 {
            out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
        }
        acc.zeroize();
        Secret::new(out)
    }

    /// RFC 4226 HOTP value for `counter`.
    pub fn hotp(&self, counter: u64) -> TotpCode {
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(&counter.to_be_bytes());
        let digest: Zeroizing<[u8; 20]> = Zeroizing::new(mac.finalize().into_bytes().into());
        let offset = (digest[digest.len() - 1] & 0x0f) as usize;
        let bin = (u32::from(digest[offset] & 0x7f) << 24)
            | (u32::from(digest[offset + 1]) << 16)
            | (u32::from(digest[offset + 2]) << 8)
            | u32::from(digest[offset + 3]);
        let value = bin % 10u32.pow(DIGITS);
        TotpCode(format!("{value:0width$}", width = DIGITS as usize))
    }

    /// RFC 6238 code at `unix_seconds`.
    pub fn code_at(&self, unix_seconds: u64) -> TotpCode {
        self.hotp(unix_seconds / STEP_SECONDS)
    }

    /// Whether `code` is valid at `unix_seconds`, accepting `window` steps either side (clock
    /// drift between the operator's phone and the host). Compared in constant time. Returns the
    /// matching step so a verifier can refuse a step it has already accepted (replay).
    pub fn verify(&self, code: &TotpCode, unix_seconds: u64, window: u64) -> Option<u64> {
        let now = unix_seconds / STEP_SECONDS;
        let mut found = None;
        for step in now.saturating_sub(window)..=now + window {
            if constant_time_eq(self.hotp(step).0.as_bytes(), code.0.as_bytes()) {
                found = Some(step);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A one-time code the operator typed (exactly six digits). Zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct TotpCode(String);

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode([redacted])")
    }
}

impl TotpCode {
    /// Six ASCII digits; spaces (as apps group them, "123 456") are ignored.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(ValidationError::Invalid {
                field: "authenticator code",
                message: "enter the 6-digit code your authenticator app shows".into(),
            })
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…` (Google Authenticator key-URI format),
/// percent-encoding issuer and account. Contains the secret: a [`Secret`].
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> Secret {
    let b32 = secret.to_base32();
    let issuer_enc = percent_encode(issuer);
    Secret::new(format!(
        "otpauth://totp/{issuer_enc}:{}?secret={}&issuer={issuer_enc}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(account),
        b32.expose()
    ))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The QR code of `uri` drawn with Unicode half blocks (two modules per character row), dark
/// modules on a light quiet zone, so a phone can scan it from a terminal. Contains the secret.
pub fn qr_text(uri: &Secret) -> Result<Secret, ValidationError> {
    use qrcode::render::unicode::Dense1x2;
    let code =
        qrcode::QrCode::with_error_correction_level(uri.expose().as_bytes(), qrcode::EcLevel::L)
            .map_err(|e| ValidationError::Invalid {
                field: "otpauth URI",
                message: format!("cannot encode as a QR code: {e}"),
            })?;
    Ok(Secret::new(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 key "12345678901234567890" (8-digit values; the 6-digit code
    /// is their last six digits).
    #[test]
    fn rfc6238_vectors() {
        let s = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (t, eight) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(s.code_at(t).expose(), &eight[2..], "t={t}");
        }
    }

    /// RFC 4226 Appendix D.
    #[test]
    fn rfc4226_vectors() {
        let s = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let want = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(s.hotp(i as u64).expose(), *w);
        }
    }

    #[test]
    fn base32_round_trip_and_rfc4648_vectors() {
        assert_eq!(
            TotpSecret::from_bytes(b"foobar".to_vec())
                .to_base32()
                .expose(),
            "MZXW6YTBOI"
        );
        assert_eq!(
            TotpSecret::from_base32("mzxw6ytboi======").unwrap(),
            TotpSecret::from_bytes(b"foobar".to_vec())
        );
        let s = TotpSecret::generate();
        assert_eq!(TotpSecret::from_base32(s.to_base32().expose()).unwrap(), s);
        assert!(TotpSecret::from_base32("not base32!").is_err());
    }

    #[test]
    fn verify_window_and_codes() {
        let s = TotpSecret::generate();
        let t = 1_700_000_000;
        assert!(s.verify(&s.code_at(t), t, 0).is_some());
        assert!(s.verify(&s.code_at(t - 30), t, 1).is_some());
        assert!(s.verify(&s.code_at(t - 90), t, 1).is_none());
        assert!(TotpCode::parse("123 456").is_ok());
        assert!(TotpCode::parse("12345").is_err());
        assert!(TotpCode::parse("12345a").is_err());
    }

    #[test]
    fn redacted_and_uri_shape() {
        let s = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let b32 = s.to_base32();
        assert!(!format!("{s:?}").contains(b32.expose()));
        let c = TotpCode::parse("123456").unwrap();
        assert!(!format!("{c:?}").contains("123456"));
        let uri = otpauth_uri("hubdeck", "ada@example.org", &s);
        assert_eq!(
            uri.expose(),
            format!(
                "otpauth://totp/hubdeck:ada@example.org?secret={}&issuer=hubdeck&algorithm=SHA1&digits=6&period=30",
                b32.expose()
            )
        );
        let qr = qr_text(&uri).unwrap();
        assert!(qr.expose().lines().count() > 10);
        assert!(qr.expose().contains('█') || qr.expose().contains('▀'));
    }
}
