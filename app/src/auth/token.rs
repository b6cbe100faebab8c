//! Access tokens: JWTs signed with HMAC-SHA256 (HS256) and `JWT_SECRET`.
//!
//! Only HS256 is ever issued or accepted, so there is no algorithm to negotiate (no `none`,
//! no RS/HS confusion). The signature is checked in constant time before the claims are read,
//! and `exp` is required. Written on RustCrypto's `hmac` and `sha2` rather than the
//! `jsonwebtoken` crate: its 10.x line must be built with either aws-lc (a cmake build) or a
//! RustCrypto backend that pulls in the `rsa` crate (RUSTSEC-2023-0071, unpatched), both for
//! algorithms this service never uses.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::Role;
use crate::config::AuthConfig;

/// `{"alg":"HS256","typ":"JWT"}`, base64url-encoded.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
/// Longer tokens are refused before any work is done.
const MAX_TOKEN_BYTES: usize = 2048;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    pub role: Role,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
}

/// Why a token was refused (never shown to the client in detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    BadSignature,
    #[error("expired token")]
    Expired,
}

/// Issues and checks tokens. `Debug` does not show the key.
#[derive(Clone)]
pub struct Tokens {
    key: SecretSlice<u8>,
    ttl: Duration,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens").field("key", &"[REDACTED]").field("ttl", &self.ttl).finish()
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Tokens {
    pub fn new(config: &AuthConfig) -> Self {
        Tokens { key: SecretSlice::from(config.secret_bytes().to_vec()), ttl: config.token_ttl }
    }

    /// How long a new token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.expose_secret()).expect("HMAC accepts any key length")
    }

    /// A signed token for this user, valid for the configured time.
    pub fn issue(&self, user: Uuid, role: Role) -> String {
        self.issue_at(user, role, now())
    }

    pub fn issue_at(&self, user: Uuid, role: Role, issued_at: u64) -> String {
        let claims = Claims { sub: user, role, iat: issued_at, exp: issued_at + self.ttl.as_secs() };
        // Serializing a struct of plain fields cannot fail.
        let payload = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{HEADER}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The claims of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_at(token, now())
    }

    pub fn verify_at(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let signing_input = &token[..header.len() + 1 + payload.len()];
        let header: serde_json::Value = serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(TokenError::Malformed);
        }
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&decode(signature)?).map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = serde_json::from_slice(&decode(payload)?).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn decode(part: &str) -> Result<Vec<u8>, TokenError> {
    Base64UrlUnpadded::decode_vec(part).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&AuthConfig {
            jwt_secret: "0123456789abcdef0123456789abcdef".to_owned().into(),
            token_ttl: Duration::from_secs(60),
        })
    }

    #[test]
    fn token_round_trips_on_valid_token() {
        let id = Uuid::new_v4();
        let token = tokens().issue_at(id, Role::Admin, 1_000);
        let claims = tokens().verify_at(&token, 1_030).unwrap();
        assert_eq!(claims, Claims { sub: id, role: Role::Admin, iat: 1_000, exp: 1_060 });
    }

    #[test]
    fn token_header_is_standard_hs256() {
        let header = Base64UrlUnpadded::decode_vec(HEADER).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);
    }

    #[test]
    fn token_is_refused_on_expiry() {
        let token = tokens().issue_at(Uuid::new_v4(), Role::User, 1_000);
        assert_eq!(tokens().verify_at(&token, 1_060), Err(TokenError::Expired));
    }

    #[test]
    fn token_is_refused_on_other_key_or_tampered_claims() {
        let token = tokens().issue_at(Uuid::new_v4(), Role::User, 1_000);
        let other = Tokens::new(&AuthConfig {
            jwt_secret: "another-secret-another-secret-another".to_owned().into(),
            token_ttl: Duration::from_secs(60),
        });
        assert_eq!(other.verify_at(&token, 1_001), Err(TokenError::BadSignature));

        // Promote the user to admin without re-signing.
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged_claims = Claims { sub: Uuid::nil(), role: Role::Admin, iat: 1_000, exp: 9_999 };
        let forged_payload = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&forged_claims).unwrap());
        let forged = format!("{head}.{forged_payload}.{signature}");
        assert_eq!(tokens().verify_at(&forged, 1_001), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_new_token_is_stamped_with_the_clock_and_lives_the_ttl() {
        let clock = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let before = clock();
        let claims = tokens().verify(&tokens().issue(Uuid::nil(), Role::User)).unwrap();
        assert!((before..=clock()).contains(&claims.iat), "{claims:?}");
        assert_eq!(claims.exp, claims.iat + 60);
    }

    /// A valid token `len` bytes long, signed with `tokens()`' key: the JSON of its header and
    /// of its claims padded with spaces.
    fn signed_of_length(len: usize) -> String {
        let claims =
            serde_json::to_string(&Claims { sub: Uuid::nil(), role: Role::User, iat: 1_000, exp: 1_060 }).unwrap();
        let sign = |header: String, claims: String| {
            let input = format!(
                "{}.{}",
                Base64UrlUnpadded::encode_string(header.as_bytes()),
                Base64UrlUnpadded::encode_string(claims.as_bytes())
            );
            let mut mac = tokens().mac();
            mac.update(input.as_bytes());
            format!("{input}.{}", Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes()))
        };
        (0..len)
            .flat_map(|h| (0..3).map(move |c| (h, c)))
            .map(|(h, c)| sign(format!("{{\"alg\":\"HS256\"{}}}", " ".repeat(h)), format!("{claims}{}", " ".repeat(c))))
            .find(|token| token.len() == len)
            .unwrap()
    }

    #[test]
    fn a_token_of_up_to_2_kib_is_read_and_a_longer_one_refused_unread() {
        let at_most = signed_of_length(MAX_TOKEN_BYTES);
        assert_eq!(tokens().verify_at(&at_most, 1_001).map(|c| c.exp), Ok(1_060));
        let over = signed_of_length(MAX_TOKEN_BYTES + 1);
        assert_eq!(tokens().verify_at(&over, 1_001), Err(TokenError::Malformed));
    }

    #[test]
    fn token_is_refused_on_alg_none_and_garbage() {
        let token = tokens().issue_at(Uuid::new_v4(), Role::User, 1_000);
        let (_, rest) = token.split_once('.').unwrap();
        let none_header = Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(tokens().verify_at(&format!("{none_header}.{rest}"), 1_001), Err(TokenError::Malformed));
        for garbage in ["", "a.b", "a.b.c.d", "###.###.###", &"x".repeat(5_000)] {
            assert!(tokens().verify_at(garbage, 1_001).is_err(), "{garbage:.20}");
        }
    }
}
