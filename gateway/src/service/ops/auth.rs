//! The bearer token of `/api/*`.
//!
//! The token is the content of `[ops] token_file`, surrounding white space trimmed, read at
//! each request (a new token applies without a restart; a file that cannot be read refuses
//! every request instead of letting them through).
//!
//! The comparison is constant-time by construction: the server holds a random HMAC-SHA256
//! key made at start-up; the expected token is HMAC'd, and [`ring::hmac::verify`] checks the
//! presented token against that tag. `verify` computes the presented token's tag and
//! compares the two 32-byte tags with ring's constant-time comparison, so the time taken
//! depends on the presented token's length only, never on how much of it matches the real
//! one; and since the key is secret and per process, a client cannot choose inputs whose
//! tags share a prefix with the real one's.

use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;
use ring::hmac;
use ring::rand::SystemRandom;

use super::Error;
use crate::service::Gateway;

/// The shortest token accepted (as `ponte config check` demands).
pub const MIN_TOKEN: usize = 16;

/// The per-process key the comparison runs under.
pub struct Auth {
    key: hmac::Key,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

impl Auth {
    /// A fresh random key.
    pub fn new() -> std::io::Result<Auth> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| std::io::Error::other("the system random generator failed"))?;
        Ok(Auth { key })
    }

    /// Whether `headers` carry the token of the gateway's `[ops] token_file`.
    pub async fn check(&self, gw: &Gateway, headers: &HeaderMap) -> Result<(), Error> {
        let Some(path) = gw.settings().ops.token_file.clone() else {
            return Err(Error::NoToken);
        };
        let unusable = |reason: String| Error::TokenFile {
            path: path.display().to_string(),
            reason,
        };
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| unusable(format!("cannot read: {e}")))?;
        let expected = text.trim();
        if expected.len() < MIN_TOKEN {
            return Err(unusable(format!(
                "the token must be at least {MIN_TOKEN} characters"
            )));
        }
        let presented = bearer(headers).ok_or(Error::Unauthorized(
            "an Authorization: Bearer header is required",
        ))?;
        self.verify(expected.as_bytes(), presented.as_bytes())
    }

    /// Constant-time: see the module documentation.
    fn verify(&self, expected: &[u8], presented: &[u8]) -> Result<(), Error> {
        let tag = hmac::sign(&self.key, expected);
        hmac::verify(&self.key, presented, tag.as_ref())
            .map_err(|_| Error::Unauthorized("wrong bearer token"))
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case, RFC 9110
/// §11.1), or `None`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_accepts_only_the_same_token() {
        let a = Auth::new().unwrap_or_else(|e| panic!("{e}"));
        let t = b"0123456789abcdef-token";
        assert!(a.verify(t, t).is_ok());
        assert!(a.verify(t, b"0123456789abcdef-tokeN").is_err());
        assert!(a.verify(t, b"0123456789abcdef-toke").is_err());
        assert!(a.verify(t, b"").is_err());
    }

    #[test]
    fn bearer_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            AUTHORIZATION,
            "Bearer  abc ".parse().unwrap_or_else(|_| panic!()),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            AUTHORIZATION,
            "bearer xyz".parse().unwrap_or_else(|_| panic!()),
        );
        assert_eq!(bearer(&h), Some("xyz"));
        h.insert(
            AUTHORIZATION,
            "Basic eHl6".parse().unwrap_or_else(|_| panic!()),
        );
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "Bearer".parse().unwrap_or_else(|_| panic!()));
        assert_eq!(bearer(&h), None);
    }
}
