//! Role names and the `/`-separated role hierarchy.

use crate::error::{RoleError, RoleErrorKind};

/// The default role: unreserved resources and frameworks without a role.
pub const DEFAULT_ROLE: &str = "*";

/// Checks a role name against Mesos's rules.
///
/// `*` is valid (the default role). Otherwise the name is a `/`-separated
/// path: no leading, trailing or doubled `/`; no component `.`, `..` or `*`;
/// no component starting with `-`; no whitespace or control characters
/// anywhere (Mesos rejects ASCII whitespace and DEL; Corral also rejects the
/// other control and Unicode whitespace characters).
pub fn validate_role(role: &str) -> Result<(), RoleError> {
    if role == DEFAULT_ROLE {
        return Ok(());
    }
    let fail = |kind| {
        Err(RoleError {
            role: role.to_string(),
            kind,
        })
    };
    if role.is_empty() {
        return fail(RoleErrorKind::Empty);
    }
    if role.starts_with('/') {
        return fail(RoleErrorKind::LeadingSlash);
    }
    if role.ends_with('/') {
        return fail(RoleErrorKind::TrailingSlash);
    }
    if role.contains("//") {
        return fail(RoleErrorKind::AdjacentSlashes);
    }
    if role.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail(RoleErrorKind::InvalidCharacter);
    }
    for component in role.split('/') {
        match component {
            "." => return fail(RoleErrorKind::DotComponent),
            ".." => return fail(RoleErrorKind::DotDotComponent),
            "*" => return fail(RoleErrorKind::StarComponent),
            c if c.starts_with('-') => return fail(RoleErrorKind::LeadingDash),
            _ => {}
        }
    }
    Ok(())
}

/// True when `child` is a strict descendant of `parent` (`a/b` of `a`, not `a` of `a`).
pub fn is_strict_subrole(child: &str, parent: &str) -> bool {
    child.len() > parent.len() + 1
        && child.starts_with(parent)
        && child.as_bytes().get(parent.len()) == Some(&b'/')
}

/// True when `role` equals `ancestor` or descends from it.
pub fn is_role_or_subrole(role: &str, ancestor: &str) -> bool {
    role == ancestor || is_strict_subrole(role, ancestor)
}

/// The direct parent of a hierarchical role (`a/b/c` → `a/b`); `None` at the top.
pub fn parent_role(role: &str) -> Option<&str> {
    role.rfind('/').map(|i| &role[..i])
}

/// All ancestors of a role, nearest first (`a/b/c` → `a/b`, `a`).
pub fn role_ancestors(role: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(parent_role(role), |r| parent_role(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(role: &str) -> Option<RoleErrorKind> {
        validate_role(role).err().map(|e| e.kind)
    }

    #[test]
    fn accepts_valid_roles() {
        for role in ["*", "web", "a/b/c", "team-1", "a.b", "x/.hidden", "é"] {
            assert_eq!(validate_role(role), Ok(()), "{role}");
        }
    }

    #[test]
    fn rejects_each_bad_case() {
        assert_eq!(kind(""), Some(RoleErrorKind::Empty));
        assert_eq!(kind("."), Some(RoleErrorKind::DotComponent));
        assert_eq!(kind(".."), Some(RoleErrorKind::DotDotComponent));
        assert_eq!(kind("a/../b"), Some(RoleErrorKind::DotDotComponent));
        assert_eq!(kind("-a"), Some(RoleErrorKind::LeadingDash));
        assert_eq!(kind("a/-b"), Some(RoleErrorKind::LeadingDash));
        assert_eq!(kind("/a"), Some(RoleErrorKind::LeadingSlash));
        assert_eq!(kind("a/"), Some(RoleErrorKind::TrailingSlash));
        assert_eq!(kind("a//b"), Some(RoleErrorKind::AdjacentSlashes));
        assert_eq!(kind("a b"), Some(RoleErrorKind::InvalidCharacter));
        assert_eq!(kind("a\tb"), Some(RoleErrorKind::InvalidCharacter));
        assert_eq!(kind("a\u{7f}"), Some(RoleErrorKind::InvalidCharacter));
        assert_eq!(kind("a\u{1}"), Some(RoleErrorKind::InvalidCharacter));
        assert_eq!(kind("a/*"), Some(RoleErrorKind::StarComponent));
        let message = validate_role("a b").err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("invalid role 'a b': cannot contain whitespace or control characters")
        );
    }

    #[test]
    fn hierarchy() {
        assert!(is_strict_subrole("a/b", "a"));
        assert!(is_strict_subrole("a/b/c", "a"));
        assert!(!is_strict_subrole("a", "a"));
        assert!(!is_strict_subrole("ab", "a"));
        assert!(!is_strict_subrole("a/", "a"));
        assert!(is_role_or_subrole("a", "a"));
        assert!(!is_role_or_subrole("b", "a"));
        assert_eq!(parent_role("a/b/c"), Some("a/b"));
        assert_eq!(parent_role("a"), None);
        assert_eq!(
            role_ancestors("a/b/c").collect::<Vec<_>>(),
            vec!["a/b", "a"]
        );
        assert_eq!(role_ancestors("a").count(), 0);
    }
}
