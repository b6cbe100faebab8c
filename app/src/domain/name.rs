//! Names: a person's, a merchant's.

use serde_json::Value;

use crate::input::FromJson;

/// A name (a user's full name, a merchant's): trimmed, 1 to 100 characters, no NUL
/// (PostgreSQL's text cannot hold one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromJson for Name {
    fn from_json(value: Value) -> Result<Self, String> {
        let name = String::from_json(value)?;
        if name.contains('\0') {
            return Err("must not contain NUL characters".to_owned());
        }
        let name = name.trim();
        if !(1..=100).contains(&name.chars().count()) {
            return Err("must have 1 to 100 characters".to_owned());
        }
        Ok(Name(name.to_owned()))
    }
}
