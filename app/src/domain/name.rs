//! Names: a person's, a merchant's.

use serde_json::Value;

use crate::input::FromJson;

/// A name (a user's full name, a merchant's): at most 100 characters as sent (the document's
/// `maxLength`), at least one once trimmed, no NUL (PostgreSQL's text cannot hold one).
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
        // The length as sent, as the document's `maxLength` counts it: 101 characters with a
        // space at an end passed when counted after the trim (found by the contract test).
        let trimmed = name.trim();
        if name.chars().count() > 100 || trimmed.is_empty() {
            return Err("must have 1 to 100 characters".to_owned());
        }
        Ok(Name(trimmed.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_length_is_counted_as_sent_and_the_name_kept_trimmed() {
        let hundred = "é".repeat(100);
        assert_eq!(Name::from_json(json!(hundred)).unwrap().as_str(), hundred);
        assert_eq!(Name::from_json(json!(" Ann ")).unwrap().as_str(), "Ann");
        for bad in [format!(" {hundred}"), "é".repeat(101), "   ".to_owned(), String::new(), "A\0".to_owned()] {
            assert!(Name::from_json(json!(bad)).is_err(), "{bad:?}");
        }
    }
}
