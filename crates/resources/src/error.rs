//! Error types of the crate. Each names the resource, token or role at fault.

use std::fmt;

use crate::ranges::Range;
use crate::resource::{DiskSourceKind, ValueType};
use crate::scalar::Scalar;

/// What is wrong with a role name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleErrorKind {
    /// The empty string.
    Empty,
    /// Starts with `/`.
    LeadingSlash,
    /// Ends with `/`.
    TrailingSlash,
    /// Contains `//`.
    AdjacentSlashes,
    /// A path component is `.`.
    DotComponent,
    /// A path component is `..`.
    DotDotComponent,
    /// A path component is `*` (only the whole role may be `*`).
    StarComponent,
    /// A path component starts with `-`.
    LeadingDash,
    /// Contains whitespace or a control character.
    InvalidCharacter,
}

impl fmt::Display for RoleErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoleErrorKind::Empty => "role names cannot be empty",
            RoleErrorKind::LeadingSlash => "cannot start with a slash",
            RoleErrorKind::TrailingSlash => "cannot end with a slash",
            RoleErrorKind::AdjacentSlashes => "cannot contain two adjacent slashes",
            RoleErrorKind::DotComponent => "cannot include '.' as a component",
            RoleErrorKind::DotDotComponent => "cannot include '..' as a component",
            RoleErrorKind::StarComponent => "cannot include '*' as a component",
            RoleErrorKind::LeadingDash => "a component cannot start with a dash",
            RoleErrorKind::InvalidCharacter => "cannot contain whitespace or control characters",
        })
    }
}

/// An invalid role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid role '{role}': {kind}")]
pub struct RoleError {
    /// The rejected role, verbatim.
    pub role: String,
    /// What is wrong with it.
    pub kind: RoleErrorKind,
}

/// A resource that breaks one of Mesos's validity rules.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("resource name is empty")]
    EmptyName,
    #[error("resource '{name}': scalar value {value} is negative")]
    NegativeScalar { name: String, value: Scalar },
    #[error("resource '{name}': scalar value {value} is NaN or infinite")]
    NonFiniteScalar { name: String, value: f64 },
    #[error("resource '{name}': scalar value {value} is too large")]
    ScalarOutOfRange { name: String, value: f64 },
    #[error("resource '{name}': scalar value {value} is not zero but rounds to 0 at 3 decimals")]
    ScalarTooSmall { name: String, value: f64 },
    #[error("resource '{name}': range {begin}-{end} has begin > end")]
    InvertedRange { name: String, begin: u64, end: u64 },
    #[error("resource '{name}': ranges {first} and {second} overlap")]
    OverlappingRanges {
        name: String,
        first: Range,
        second: Range,
    },
    #[error("resource '{name}': set has an empty item")]
    EmptySetItem { name: String },
    #[error("resource '{name}': set item '{item}' appears more than once")]
    DuplicateSetItem { name: String, item: String },
    #[error("resource '{name}': {error}")]
    InvalidRole { name: String, error: RoleError },
    #[error("resource '{name}': role '*' cannot be reserved")]
    ReservedToStar { name: String },
    #[error("resource '{name}': refined reservation for role '{role}' cannot be STATIC")]
    StaticRefinement { name: String, role: String },
    #[error("resource '{name}': reservation role '{role}' is not a refinement of '{ancestor}'")]
    NotARefinement {
        name: String,
        role: String,
        ancestor: String,
    },
    #[error("resource '{name}': disk info is only allowed on 'disk' resources")]
    DiskInfoOnNonDisk { name: String },
    #[error("resource '{name}': a {kind} disk source cannot have a root path")]
    DiskSourceWithRoot { name: String, kind: DiskSourceKind },
    #[error("resource '{name}': persistence id is empty")]
    EmptyPersistenceId { name: String },
    #[error("resource '{name}': only persistent volumes can be shared")]
    SharedNotPersistentVolume { name: String },
}

/// Failure to parse resources or attributes from text or JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The token does not follow the syntax.
    #[error("invalid token '{token}': {reason}")]
    Syntax { token: String, reason: String },
    /// The token parsed but describes an invalid resource.
    #[error("invalid token '{token}': {error}")]
    Invalid {
        token: String,
        error: ValidationError,
    },
    /// The text looked like JSON but is not a valid JSON array.
    #[error("invalid JSON resources: {reason}")]
    Json { reason: String },
    /// The same resource name is given with two different types.
    #[error("resource '{name}' is given both as {first} and as {second}")]
    TypeConflict {
        name: String,
        first: ValueType,
        second: ValueType,
    },
    /// The resource is valid, but not allowed in this place (e.g. on the command line).
    #[error("invalid token '{token}': {reason}")]
    NotAllowed { token: String, reason: &'static str },
    /// An attribute name occurs twice.
    #[error("attribute '{name}' is given more than once")]
    DuplicateAttribute { name: String },
    /// The default role passed by the caller is invalid.
    #[error("invalid default role: {0}")]
    DefaultRole(RoleError),
}

/// Failure of a checked operation on [`crate::Resources`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResourcesError {
    /// A subtraction needs resources that are not there.
    #[error("resources do not contain {missing}")]
    NotContained { missing: String },
    /// A reservation was popped from an unreserved resource.
    #[error("resource {resource} is not reserved")]
    NotReserved { resource: String },
    /// An operation would produce an invalid resource.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}
