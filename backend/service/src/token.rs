//! API tokens: random secrets handed out once; only their SHA-256 is stored.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// The prefix of every token, so a leaked one is easy to recognise.
pub const TOKEN_PREFIX: &str = "jp_";

/// A new random token: `jp_` and 32 random bytes in hex.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex(&bytes))
}

/// The stored form of a token.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The token in an `Authorization: Bearer <token>` header value, if any.
pub fn from_bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = rest.trim();
    (!t.is_empty()).then_some(t)
}

/// An `Authorization` header of the Bearer scheme that carries no token
/// (`Bearer`, `Bearer   `).
pub fn is_empty_bearer(header: &str) -> bool {
    let h = header.trim();
    let scheme = h.split_whitespace().next().unwrap_or("");
    scheme.eq_ignore_ascii_case("bearer") && from_bearer(h).is_none()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(hash(&a).len(), 32);
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(from_bearer("Bearer abc"), Some("abc"));
        assert_eq!(from_bearer("bearer  abc "), Some("abc"));
        assert_eq!(from_bearer("Basic abc"), None);
        assert_eq!(from_bearer("Bearer "), None);
        for empty in ["Bearer", "Bearer ", "bearer   ", " BEARER"] {
            assert!(is_empty_bearer(empty), "{empty:?}");
        }
        for not in ["Bearer abc", "Basic abc", "Basic", ""] {
            assert!(!is_empty_bearer(not), "{not:?}");
        }
    }
}
