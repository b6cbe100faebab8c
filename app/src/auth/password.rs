//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes, the OWASP
//! recommendation). Hashing is CPU-bound for tens of milliseconds, so it runs on tokio's
//! blocking pool, never on the threads that serve requests.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;

/// Hashes a new password; returns the PHC string to store (`$argon2id$v=19$…`).
pub async fn hash(password: SecretString) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| ApiError::internal(format!("cannot hash a password: {e}")))
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash of a password nobody has, checked when the email is unknown so that a login takes
/// as long for an unknown email as for a wrong password (no user enumeration by timing).
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default().hash_password(b"no user has this password").map(|hash| hash.to_string()).unwrap_or_default()
});

/// Whether `password` matches `stored` (a PHC string). With no stored hash it still does the
/// work, and answers false.
pub async fn verify(password: SecretString, stored: Option<SecretString>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.map_or_else(|| DUMMY_HASH.clone(), |s| s.expose_secret().to_owned());
        let parsed =
            PasswordHash::new(&stored).map_err(|e| ApiError::internal(format!("stored hash unreadable: {e}")))?;
        let matches = Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Hashes the dummy password now (at start-up) rather than during the first login.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}
