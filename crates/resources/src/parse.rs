//! The agent `--resources` flag: Mesos text syntax or a JSON array.
//!
//! Text: `cpus:4;mem:8192;disk:10000;ports:[31000-32000]`, `cpus(prod):2`
//! (static reservation to `prod`), `disks:{a,b}`, `ports:[21000-24000,30000-34000]`;
//! whitespace around tokens, names, roles and values is ignored. As in Mesos,
//! ranges within one text value may overlap (they are coalesced), repeated
//! names add up, zero values are dropped, and a single-value range `[80]`
//! is accepted as `[80-80]` (Mesos rejects it). The JSON form is documented
//! in [`crate::json`]. Loading `file://` paths is the caller's job.

use std::collections::BTreeMap;

use crate::error::ParseError;
use crate::json::resources_from_json;
use crate::ranges::{Range, Ranges};
use crate::resource::{Reservation, Resource};
use crate::resources::Resources;
use crate::roles::{validate_role, DEFAULT_ROLE};
use crate::scalar::Scalar;
use crate::value::{Value, ValueType};
use crate::ValidationError;

/// A value in Mesos text syntax, before it is given a meaning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    /// Anything Rust parses as `f64` (including `nan` and `inf`).
    Number(String, f64),
    /// `[a-b, c-d]`, pairs as written.
    Ranges(Vec<(u64, u64)>),
    /// `{a, b}`, items as written (trimmed).
    Set(Vec<String>),
    /// Anything else.
    Text(String),
}

/// Splits a value into its syntactic kind; the error is a reason.
pub(crate) fn parse_raw_value(text: &str) -> Result<RawValue, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("value is empty".to_string());
    }
    let has_bracket = |s: &str| s.contains(['[', ']', '{', '}']);
    if let Some(rest) = text.strip_prefix('[') {
        let inner = rest
            .strip_suffix(']')
            .filter(|inner| !has_bracket(inner))
            .ok_or("mismatched brackets in ranges")?;
        return parse_range_list(inner).map(RawValue::Ranges);
    }
    if let Some(rest) = text.strip_prefix('{') {
        let inner = rest
            .strip_suffix('}')
            .filter(|inner| !has_bracket(inner))
            .ok_or("mismatched braces in set")?;
        if inner.trim().is_empty() {
            return Ok(RawValue::Set(Vec::new()));
        }
        let items = inner.split(',').map(|i| i.trim().to_string()).collect();
        return Ok(RawValue::Set(items));
    }
    if has_bracket(text) {
        return Err("unexpected bracket".to_string());
    }
    Ok(match text.parse::<f64>() {
        Ok(number) => RawValue::Number(text.to_string(), number),
        Err(_) => RawValue::Text(text.to_string()),
    })
}

fn parse_range_list(inner: &str) -> Result<Vec<(u64, u64)>, String> {
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("expected a non-negative integer, found '{}'", s.trim()))
    };
    inner
        .split(',')
        .map(|segment| match segment.split_once('-') {
            Some((begin, end)) => Ok((number(begin)?, number(end)?)),
            None => number(segment).map(|v| (v, v)),
        })
        .collect()
}

/// Parses the `--resources` flag with the default role `*`.
pub fn parse_resources(text: &str) -> Result<Resources, ParseError> {
    parse_resources_with_role(text, DEFAULT_ROLE)
}

/// Parses the `--resources` flag. Resources without a role are statically
/// reserved to `default_role` unless it is `*` (the agent's `--default_role`).
///
/// Text that starts with `[` is read as a JSON array. Every resource is
/// validated; as in Mesos, the flag may not declare persistent volumes,
/// revocable resources or dynamic reservations, nor one name with two types.
pub fn parse_resources_with_role(text: &str, default_role: &str) -> Result<Resources, ParseError> {
    validate_role(default_role).map_err(ParseError::DefaultRole)?;
    let tokens: Vec<(String, Resource)> = if text.trim_start().starts_with('[') {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| ParseError::Json {
            reason: e.to_string(),
        })?;
        resources_from_json(&json, default_role)?
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("resources[{i}] ({})", r.name), r))
            .collect()
    } else if text.trim() == "{}" {
        Vec::new()
    } else {
        parse_text_tokens(text, default_role)?
    };

    let mut types: BTreeMap<String, ValueType> = BTreeMap::new();
    let mut out = Resources::new();
    for (token, resource) in tokens {
        resource.validate().map_err(|error| ParseError::Invalid {
            token: token.clone(),
            error,
        })?;
        let not_allowed = if resource.is_persistent_volume() {
            Some("persistent volumes cannot be specified on the command line")
        } else if resource.revocable {
            Some("revocable resources cannot be specified on the command line")
        } else if resource
            .reservations
            .iter()
            .any(|r| r.kind == crate::ReservationType::Dynamic)
        {
            Some("dynamic reservations cannot be specified on the command line")
        } else {
            None
        };
        if let Some(reason) = not_allowed {
            return Err(ParseError::NotAllowed { token, reason });
        }
        let ty = resource.value_type();
        match types.get(&resource.name) {
            Some(&first) if first != ty => {
                return Err(ParseError::TypeConflict {
                    name: resource.name,
                    first,
                    second: ty,
                })
            }
            Some(_) => {}
            None => {
                types.insert(resource.name.clone(), ty);
            }
        }
        out.add(resource);
    }
    Ok(out)
}

/// Text syntax → `(token, resource)` pairs, unvalidated beyond the values.
fn parse_text_tokens(
    text: &str,
    default_role: &str,
) -> Result<Vec<(String, Resource)>, ParseError> {
    let mut out = Vec::new();
    for token in text.split(';').map(str::trim).filter(|t| !t.is_empty()) {
        let syntax = |reason: String| ParseError::Syntax {
            token: token.to_string(),
            reason,
        };
        let invalid = |error: ValidationError| ParseError::Invalid {
            token: token.to_string(),
            error,
        };
        let (head, value) = token
            .split_once(':')
            .ok_or_else(|| syntax("missing ':' between name and value".into()))?;
        if value.contains(':') {
            return Err(syntax("extra ':'".into()));
        }
        let (name, role) = match head.find('(') {
            None if head.contains(')') => return Err(syntax("mismatched parentheses".into())),
            None => (head.trim(), default_role),
            Some(open) => {
                let close = head
                    .rfind(')')
                    .filter(|&close| close > open && head[close + 1..].trim().is_empty())
                    .ok_or_else(|| syntax("mismatched parentheses".into()))?;
                (head[..open].trim(), head[open + 1..close].trim())
            }
        };
        if name.contains(['(', ')']) || role.contains(['(', ')']) {
            return Err(syntax("mismatched parentheses".into()));
        }
        if name.is_empty() {
            return Err(invalid(ValidationError::EmptyName));
        }
        let raw = parse_raw_value(value).map_err(syntax)?;
        let value = resource_value(name, raw).map_err(|e| match e {
            ValueProblem::Syntax(reason) => syntax(reason),
            ValueProblem::Invalid(error) => invalid(error),
        })?;
        let mut resource = Resource::new(name, value);
        if role != DEFAULT_ROLE {
            resource.reservations.push(Reservation::new_static(role));
        }
        out.push((token.to_string(), resource));
    }
    Ok(out)
}

/// Why a text value cannot be a resource value.
enum ValueProblem {
    Syntax(String),
    Invalid(ValidationError),
}

/// Gives a raw text value its resource meaning.
fn resource_value(name: &str, raw: RawValue) -> Result<Value, ValueProblem> {
    match raw {
        RawValue::Number(text, number) => {
            Value::try_scalar(name, number).map_err(ValueProblem::Invalid)?;
            // Prefer the exact decimal reading of the text when there is one.
            Ok(Value::Scalar(Scalar::parse_decimal(&text).unwrap_or_else(
                |_| Scalar::try_from_f64(number).unwrap_or_default(),
            )))
        }
        RawValue::Ranges(pairs) => {
            let mut ranges = Vec::with_capacity(pairs.len());
            for (begin, end) in pairs {
                let range = Range::new(begin, end).ok_or_else(|| {
                    ValueProblem::Invalid(ValidationError::InvertedRange {
                        name: name.to_string(),
                        begin,
                        end,
                    })
                })?;
                ranges.push(range);
            }
            Ok(Value::Ranges(Ranges::coalesce(ranges)))
        }
        RawValue::Set(items) => Value::try_set(name, items).map_err(ValueProblem::Invalid),
        RawValue::Text(_) => Err(ValueProblem::Syntax(
            "expected a number, [ranges] or {set} as the value".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests;
