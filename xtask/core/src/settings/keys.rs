//! A table's keys read one at a time, so that an error names the key it is about
//! (`paths[0].threshold: …`), not just what serde expected. A wrapper around `serde_json::Value`
//! that adds the key (or index) to an error on its way out of each table and array.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

/// Reads a whole table, its keys one at a time: every key's error at once, each naming its key.
/// A key the table does not have is an error too ("unknown field `x`, expected one of …").
pub(super) fn read_table<T: DeserializeOwned + Default>(table: Value) -> Result<T, Vec<String>> {
    let Value::Object(entries) = table else {
        return T::deserialize(Keyed(table)).map_err(|e| vec![e.to_string()]);
    };
    let mut errors = Vec::new();
    for (key, value) in &entries {
        let one = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        if let Err(e) = T::deserialize(Keyed(one)) {
            errors.push(e.to_string());
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    T::deserialize(Keyed(Value::Object(entries))).map_err(|e| vec![e.to_string()])
}

/// A deserialisation error and where it happened: the keys and indices from the table down.
#[derive(Debug)]
pub(super) struct KeyError {
    path: Vec<Step>,
    message: String,
}

#[derive(Debug)]
enum Step {
    Key(String),
    Index(usize),
}

impl KeyError {
    fn in_key(mut self, key: &str) -> KeyError {
        self.path.insert(0, Step::Key(key.to_owned()));
        self
    }

    fn at_index(mut self, i: usize) -> KeyError {
        self.path.insert(0, Step::Index(i));
        self
    }

    fn json(e: serde_json::Error) -> KeyError {
        KeyError { path: Vec::new(), message: e.to_string() }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            return f.write_str(&self.message);
        }
        f.write_str("`")?;
        for (i, step) in self.path.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        write!(f, "`: {}", self.message)
    }
}

impl std::error::Error for KeyError {}

impl de::Error for KeyError {
    fn custom<T: fmt::Display>(message: T) -> KeyError {
        KeyError { path: Vec::new(), message: message.to_string() }
    }
}

/// A value whose tables and arrays hand their keys and indices to the errors inside them.
struct Keyed(Value);

macro_rules! forward {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, KeyError> {
            self.0.$method(visitor).map_err(KeyError::json)
        })*
    };
}

impl<'de> Deserializer<'de> for Keyed {
    type Error = KeyError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, KeyError> {
        match self.0 {
            Value::Object(entries) => {
                visitor.visit_map(Entries { entries: entries.into_iter(), value: None, key: String::new() })
            }
            Value::Array(items) => visitor.visit_seq(Items { items: items.into_iter().enumerate() }),
            other => other.deserialize_any(visitor).map_err(KeyError::json),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, KeyError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Keyed(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, KeyError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, KeyError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, KeyError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, KeyError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, KeyError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, KeyError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, KeyError> {
        self.0.deserialize_enum(name, variants, visitor).map_err(KeyError::json)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, KeyError> {
        self.0.deserialize_unit_struct(name, visitor).map_err(KeyError::json)
    }

    forward! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_identifier
        deserialize_ignored_any
    }
}

/// A table's entries: an error in a value is put under its key.
struct Entries {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
    key: String,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = KeyError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, KeyError> {
        let Some((key, value)) = self.entries.next() else { return Ok(None) };
        self.value = Some(value);
        self.key.clone_from(&key);
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, KeyError> {
        let value = self.value.take().unwrap_or(Value::Null);
        seed.deserialize(Keyed(value)).map_err(|e| e.in_key(&self.key))
    }
}

/// An array's items: an error in one is put under its index.
struct Items {
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = KeyError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, KeyError> {
        let Some((i, item)) = self.items.next() else { return Ok(None) };
        seed.deserialize(Keyed(item)).map(Some).map_err(|e| e.at_index(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
    struct Table {
        flag: bool,
        port: u16,
        items: Vec<Item>,
        names: std::collections::BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        size: Option<u64>,
    }

    #[test]
    fn a_good_table_reads_as_serde_would() {
        let t: Table = read_table(json!({"flag": true, "items": [{"name": "a", "size": 2}, {"name": "b"}]})).unwrap();
        assert_eq!(t.items, [Item { name: "a".into(), size: Some(2) }, Item { name: "b".into(), size: None }]);
        assert!(t.flag && t.port == 0);
    }

    #[test]
    fn every_bad_key_is_reported_with_its_path() {
        let errors = read_table::<Table>(json!({
            "flag": "yes",
            "port": 70000,
            "items": [{"name": "a"}, {"name": "b", "size": -1}, {"size": 1}],
            "names": {"A": 1},
            "colour": "red",
        }))
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "unknown field `colour`, expected one of `flag`, `port`, `items`, `names`",
                "`flag`: invalid type: string \"yes\", expected a boolean",
                "`items[1].size`: invalid value: integer `-1`, expected u64",
                "`names.A`: invalid type: integer `1`, expected a string",
                "`port`: invalid value: integer `70000`, expected u16",
            ]
        );
        let missing = read_table::<Table>(json!({"items": [{"size": 1}]})).unwrap_err();
        assert_eq!(missing, ["`items[0]`: missing field `name`"]);
    }
}
