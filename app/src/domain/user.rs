//! A user's email and password.

use secrecy::SecretString;
use serde_json::Value;

use crate::input::FromJson;

/// An email address, trimmed and lower-cased (as stored, and as login looks it up): one `@`,
/// something before it, a dot in the domain, no spaces, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// How emails are compared: trimmed and lower-cased.
    pub fn normalize(email: &str) -> String {
        email.trim().to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromJson for Email {
    fn from_json(value: Value) -> Result<Self, String> {
        let email = Email::normalize(&String::from_json(value)?);
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c == '\0')
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid { Ok(Email(email)) } else { Err("must be an email address".to_owned()) }
    }
}

/// A new account's password: 8 to 128 characters, kept exactly as typed (no trimming). No
/// `Debug`.
pub struct NewPassword(SecretString);

impl NewPassword {
    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl FromJson for NewPassword {
    fn from_json(value: Value) -> Result<Self, String> {
        let password = String::from_json(value)?;
        let n = password.chars().count();
        if (8..=128).contains(&n) {
            Ok(NewPassword(SecretString::from(password)))
        } else {
            Err("must have 8 to 128 characters".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn email_is_checked_on_common_mistakes() {
        for bad in ["", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.co", "a@b@c.co"] {
            assert!(Email::from_json(json!(bad)).is_err(), "{bad}");
        }
        let email = Email::from_json(json!("  Mixed.Case+tag@Sub.Example.org ")).unwrap();
        assert_eq!(email.as_str(), "mixed.case+tag@sub.example.org");
    }
}
