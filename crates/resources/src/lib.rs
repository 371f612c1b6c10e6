//! Corral's resource algebra, modelled on Apache Mesos's `Resource`/`Resources`.
//!
//! * [`Scalar`] (fixed point, 3 decimals), [`Ranges`], [`Set`]: resource values.
//! * [`Resource`]: name, [`Value`], reservation stack, allocation role and
//!   the markers Mesos treats as identity (disk info, revocable, shared, provider).
//! * [`Resources`]: a normalized collection with checked add/subtract,
//!   containment and the role filters the allocator needs.
//! * Parsing of the agent's `--resources` ([`parse_resources`]) and
//!   `--attributes` ([`Attributes::parse`]) flags, Mesos JSON ([`json`]) and
//!   the legacy flat JSON of `/state` ([`to_flat_json`]).
//! * [`ResourceQuantities`] for DRF shares and quota; [`detect_defaults`] for
//!   an agent's default resources.
//!
//! Everything here is pure except [`read_machine`] / [`HostMachine`].

mod attributes;
mod convert;
mod detect;
mod disk;
mod error;
mod flat_json;
pub mod json;
mod parse;
mod quantities;
mod ranges;
mod resource;
mod resources;
pub mod roles;
mod scalar;
mod set;
mod validate;
mod value;

pub use attributes::{Attribute, AttributeValue, Attributes};
pub use convert::ProtoError;
pub use detect::{
    detect_defaults, fill_defaults, parse_meminfo_total_mb, read_machine, HostMachine,
    MachineProbe, MachineTotals, DEFAULT_PORTS,
};
pub use error::{ParseError, ResourcesError, RoleError, RoleErrorKind, ValidationError};
pub use flat_json::{to_flat_json, to_flat_json_by_role};
pub use parse::{parse_resources, parse_resources_with_role};
pub use quantities::ResourceQuantities;
pub use ranges::{Range, Ranges, RangesError};
pub use resource::{
    DiskInfo, DiskSource, DiskSourceKind, Persistence, Reservation, ReservationType, Resource,
    Volume, VolumeMode,
};
pub use resources::Resources;
pub use roles::{validate_role, DEFAULT_ROLE};
pub use scalar::{Scalar, ScalarError};
pub use set::{Set, SetError};
pub use value::{Value, ValueType};
