//! Copying a secret to the terminal's clipboard (OSC 52) without leaving a copy behind: the
//! escape sequence — the secret in base64 — is built in a buffer that is wiped once written,
//! where a general-purpose clipboard command would keep its own unwiped string.

use std::io::{self, Write};

use zeroize::Zeroizing;

use crate::domain::Secret;

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the standard base64 (padded) of `bytes` to `out`.
fn push_base64(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

/// Writes the OSC 52 "set clipboard" sequence for `secret` to `out` and flushes it.
pub fn copy_secret(out: &mut impl Write, secret: &Secret) -> io::Result<()> {
    let plain = secret.expose().as_bytes();
    let mut seq = Zeroizing::new(String::with_capacity(plain.len().div_ceil(3) * 4 + 16));
    seq.push_str("\x1b]52;c;");
    push_base64(plain, &mut seq);
    seq.push_str("\x1b\\");
    out.write_all(seq.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_vectors() {
        for (plain, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut s = String::new();
            push_base64(plain.as_bytes(), &mut s);
            assert_eq!(s, b64, "{plain}");
        }
    }

    #[test]
    fn the_sequence_is_what_the_terminal_library_would_send() {
        use crossterm::Command;
        let key = "hubk_3fQabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ_0aZ9bC";
        let mut ours = Vec::new();
        copy_secret(&mut ours, &Secret::new(key)).expect("write");
        let mut theirs = String::new();
        crossterm::clipboard::CopyToClipboard::to_clipboard_from(key.as_bytes())
            .write_ansi(&mut theirs)
            .expect("ansi");
        assert_eq!(String::from_utf8(ours).expect("utf8"), theirs);
    }
}
