//! Wire types of Corral.
//!
//! * [`v1`]: the Mesos v1 API messages (`mesos.v1.*` packages), generated from `proto/` by
//!   prost. The same types encode as protobuf (Mesos's field numbers) and as Mesos's JSON
//!   (see [`json`] for the mapping rules).
//! * [`internal`]: Corral's own master↔agent protocol (versioned, every message carries the
//!   leader epoch).
//! * [`ids`]: helpers to make and check identifiers.

pub mod checks;
pub mod duration;
pub mod ids;
pub mod internal;
pub mod json;

/// The generated packages, nested as prost expects (module path = proto package).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod mesos {
    /// `mesos.v1`: the Mesos v1 API messages.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/mesos.v1.rs"));

        /// `mesos.v1.scheduler`: the scheduler API's Call and Event.
        pub mod scheduler {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.scheduler.rs"));
        }
        /// `mesos.v1.executor`: the executor API's Call and Event.
        pub mod executor {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.executor.rs"));
        }
        /// `mesos.v1.master`: the master's operator API.
        pub mod master {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.master.rs"));
        }
        /// `mesos.v1.agent`: the agent's operator API.
        pub mod agent {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.agent.rs"));
        }
        /// `mesos.v1.quota`.
        pub mod quota {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.quota.rs"));
        }
        /// `mesos.v1.maintenance`.
        pub mod maintenance {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.maintenance.rs"));
        }
        /// `mesos.v1.allocator`.
        pub mod allocator {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.allocator.rs"));
        }
    }
}

/// Well-known types used by the Mesos protos.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod google {
    /// `google.protobuf`.
    pub mod protobuf {
        include!(concat!(env!("OUT_DIR"), "/google.protobuf.rs"));
    }
}

pub use mesos::v1;

/// Marker types carrying each proto enum's value names (generated).
#[allow(missing_docs, clippy::all)]
pub mod enums {
    include!(concat!(env!("OUT_DIR"), "/enum_names.rs"));
}

/// The Mesos release whose API Corral speaks; `/version` reports it (clients parse it as
/// numeric `X.Y.Z`, so no suffix).
pub const MESOS_COMPAT_VERSION: &str = "1.11.0";
