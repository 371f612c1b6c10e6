//! Agent attributes (`--attributes=rack:r1;zone:a;slots:4`).

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value as Json};

use crate::error::ParseError;
use crate::parse::{parse_raw_value, RawValue};
use crate::ranges::{Range, Ranges};
use crate::scalar::Scalar;
use crate::set::Set;

/// An attribute value, with Mesos's attribute types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    Scalar(Scalar),
    Ranges(Ranges),
    Set(Set),
    Text(String),
}

impl AttributeValue {
    /// The protobuf type name: `SCALAR`, `RANGES`, `SET` or `TEXT`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::Scalar(_) => "SCALAR",
            AttributeValue::Ranges(_) => "RANGES",
            AttributeValue::Set(_) => "SET",
            AttributeValue::Text(_) => "TEXT",
        }
    }

    /// Reads a value the way Mesos does: `[..]` is RANGES, `{..}` is SET, a
    /// finite number is SCALAR (rounded to 3 decimals), anything else TEXT.
    pub fn parse(text: &str) -> Result<AttributeValue, String> {
        Ok(match parse_raw_value(text)? {
            RawValue::Number(text, number) if number.is_finite() => {
                let scalar = Scalar::parse_decimal(&text)
                    .or_else(|_| Scalar::try_from_f64(number))
                    .map_err(|e| format!("number is {e}"))?;
                AttributeValue::Scalar(scalar)
            }
            RawValue::Number(text, _) | RawValue::Text(text) => AttributeValue::Text(text),
            RawValue::Ranges(pairs) => {
                let mut ranges = Vec::with_capacity(pairs.len());
                for (begin, end) in pairs {
                    ranges.push(
                        Range::new(begin, end)
                            .ok_or_else(|| format!("range {begin}-{end} has begin > end"))?,
                    );
                }
                AttributeValue::Ranges(Ranges::coalesce(ranges))
            }
            RawValue::Set(items) => {
                AttributeValue::Set(Set::from_items_strict(items).map_err(|e| match e {
                    crate::set::SetError::EmptyItem => "set has an empty item".to_string(),
                    crate::set::SetError::Duplicate(item) => {
                        format!("set item '{item}' appears more than once")
                    }
                })?)
            }
        })
    }

    /// The value as in the legacy `/state` JSON: scalars as numbers, others as strings.
    pub fn to_flat_json(&self) -> Json {
        match self {
            AttributeValue::Scalar(s) => {
                serde_json::Number::from_f64(s.as_f64()).map_or(Json::Null, Json::Number)
            }
            AttributeValue::Ranges(r) => Json::String(r.to_string()),
            AttributeValue::Set(s) => Json::String(s.to_string()),
            AttributeValue::Text(t) => Json::String(t.clone()),
        }
    }
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::Scalar(s) => s.fmt(f),
            AttributeValue::Ranges(r) => r.fmt(f),
            AttributeValue::Set(s) => s.fmt(f),
            AttributeValue::Text(t) => f.write_str(t),
        }
    }
}

/// A named attribute.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attribute {
    pub name: String,
    pub value: AttributeValue,
}

/// The attributes of an agent, in declaration order, names unique.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attributes(Vec<Attribute>);

impl Attributes {
    /// No attributes.
    pub fn new() -> Attributes {
        Attributes::default()
    }

    /// Parses `name:value` pairs separated by `;` or newlines. Unlike Mesos
    /// (which aborts), errors name the token; a repeated name is an error.
    pub fn parse(text: &str) -> Result<Attributes, ParseError> {
        let mut out = Attributes::new();
        for token in text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let syntax = |reason: String| ParseError::Syntax {
                token: token.to_string(),
                reason,
            };
            let (name, value) = token
                .split_once(':')
                .ok_or_else(|| syntax("expected name:value".into()))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(syntax("attribute name is empty".into()));
            }
            let value = AttributeValue::parse(value).map_err(syntax)?;
            out.insert(name, value)?;
        }
        Ok(out)
    }

    /// Adds an attribute; fails if the name is already present.
    pub fn insert(&mut self, name: &str, value: AttributeValue) -> Result<(), ParseError> {
        if self.get(name).is_some() {
            return Err(ParseError::DuplicateAttribute {
                name: name.to_string(),
            });
        }
        self.0.push(Attribute {
            name: name.to_string(),
            value,
        });
        Ok(())
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&AttributeValue> {
        self.0.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    /// The attributes in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = &Attribute> + '_ {
        self.0.iter()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The legacy `/state` form: `{"rack": "r1", "slots": 4.0, "range": "[1-3]"}`.
    pub fn to_flat_json(&self) -> Map<String, Json> {
        self.0
            .iter()
            .map(|a| (a.name.clone(), a.value.to_flat_json()))
            .collect()
    }
}

impl FromStr for Attributes {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Attributes::parse(s)
    }
}

/// The flag syntax: `rack:r1;slots:4;set:{a, b}`.
impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{}:{}", a.name, a.value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_type() {
        let attrs = Attributes::parse(
            "rack:r1; zone : a ;slots:4;range:[1-3];set:{b,a};w:0.5\nos:linux-5.1",
        )
        .unwrap_or_default();
        let kinds: Vec<_> = attrs.iter().map(|a| a.value.type_name()).collect();
        assert_eq!(
            kinds,
            ["TEXT", "TEXT", "SCALAR", "RANGES", "SET", "SCALAR", "TEXT"]
        );
        assert_eq!(attrs.get("zone"), Some(&AttributeValue::Text("a".into())));
        assert_eq!(
            attrs.get("slots"),
            Some(&AttributeValue::Scalar(Scalar::from_units(4)))
        );
        assert_eq!(
            attrs.to_string(),
            "rack:r1;zone:a;slots:4;range:[1-3];set:{a, b};w:0.5;os:linux-5.1"
        );
        assert_eq!(
            Attributes::parse(&attrs.to_string()).ok(),
            Some(attrs.clone())
        );
        let json = serde_json::Value::Object(attrs.to_flat_json());
        assert_eq!(
            json,
            serde_json::json!({"rack": "r1", "zone": "a", "slots": 4.0, "range": "[1-3]",
                               "set": "{a, b}", "w": 0.5, "os": "linux-5.1"})
        );
    }

    #[test]
    fn non_finite_numbers_are_text() {
        let attrs = Attributes::parse("a:inf;b:NaN;c:-2").unwrap_or_default();
        assert_eq!(attrs.get("a"), Some(&AttributeValue::Text("inf".into())));
        assert_eq!(attrs.get("b"), Some(&AttributeValue::Text("NaN".into())));
        assert_eq!(
            attrs.get("c"),
            Some(&AttributeValue::Scalar(Scalar::from_units(-2)))
        );
    }

    #[test]
    fn errors_name_the_token() {
        let err = |text: &str| Attributes::parse(text).err().map(|e| e.to_string());
        assert_eq!(
            err("rack").as_deref(),
            Some("invalid token 'rack': expected name:value")
        );
        assert_eq!(
            err(":x").as_deref(),
            Some("invalid token ':x': attribute name is empty")
        );
        assert_eq!(
            err("a:").as_deref(),
            Some("invalid token 'a:': value is empty")
        );
        assert_eq!(
            err("r:[3-1]").as_deref(),
            Some("invalid token 'r:[3-1]': range 3-1 has begin > end")
        );
        assert_eq!(
            err("s:{a,a}").as_deref(),
            Some("invalid token 's:{a,a}': set item 'a' appears more than once")
        );
        assert_eq!(
            err("s:{a").as_deref(),
            Some("invalid token 's:{a': mismatched braces in set")
        );
        assert_eq!(
            err("a:1;a:2").as_deref(),
            Some("attribute 'a' is given more than once")
        );
        assert_eq!(Attributes::parse("").ok(), Some(Attributes::new()));
    }
}
