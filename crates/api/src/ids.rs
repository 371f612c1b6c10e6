//! Identifier rules shared by the master and the agent.

use thiserror::Error;

/// Why a user-supplied id (task, executor, …) is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The id is empty.
    #[error("{kind} ID must not be empty")]
    Empty {
        /// Which kind of id.
        kind: &'static str,
    },
    /// The id is longer than 255 bytes.
    #[error("{kind} ID '{id}' is longer than 255 bytes")]
    TooLong {
        /// Which kind of id.
        kind: &'static str,
        /// The id (truncated).
        id: String,
    },
    /// The id is `.` or `..`.
    #[error("{kind} ID must not be '.' or '..'")]
    Dots {
        /// Which kind of id.
        kind: &'static str,
    },
    /// The id contains `/`, `\` or a control character.
    #[error("{kind} ID '{id}' contains an invalid character (control characters, '/' and '\\' are not allowed)")]
    BadChar {
        /// Which kind of id.
        kind: &'static str,
        /// The id.
        id: String,
    },
}

/// Checks a user-supplied id as Mesos does: non-empty, at most 255 bytes, not `.`/`..`, no
/// control characters, `/` or `\` (ids become path components of sandboxes).
pub fn validate_id(kind: &'static str, id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if id.len() > 255 {
        let shown: String = id.chars().take(64).collect();
        return Err(IdError::TooLong { kind, id: shown });
    }
    if id == "." || id == ".." {
        return Err(IdError::Dots { kind });
    }
    if id.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(IdError::BadChar {
            kind,
            id: id.escape_default().to_string(),
        });
    }
    Ok(())
}

/// A fresh random 16-byte UUID, as status updates carry it.
pub fn new_uuid_bytes() -> Vec<u8> {
    uuid::Uuid::new_v4().as_bytes().to_vec()
}

/// A fresh canonical UUID string (master ids, stream ids).
pub fn new_uuid_string() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids() {
        assert!(validate_id("Task", "web-1.abc_DEF:2").is_ok());
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(matches!(
            validate_id("Task", ""),
            Err(IdError::Empty { .. })
        ));
        assert!(matches!(
            validate_id("Task", ".."),
            Err(IdError::Dots { .. })
        ));
        assert!(matches!(
            validate_id("Task", "a/b"),
            Err(IdError::BadChar { .. })
        ));
        assert!(matches!(
            validate_id("Task", "a\\b"),
            Err(IdError::BadChar { .. })
        ));
        assert!(matches!(
            validate_id("Task", "a\nb"),
            Err(IdError::BadChar { .. })
        ));
        assert!(matches!(
            validate_id("Task", &"x".repeat(256)),
            Err(IdError::TooLong { .. })
        ));
    }
}
