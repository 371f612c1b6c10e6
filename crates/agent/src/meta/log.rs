//! The status update log of one task (`task.updates`): an append-only sequence of records,
//! one JSON object per line, each appended with one write and fsynced before the agent acts
//! on it:
//!
//! ```text
//! {"update": TaskStatus}      the agent took custody of an update
//! {"ack": "<uuid hex>"}       the scheduler acknowledged it
//! ```
//!
//! A record counts only when its line is complete (ends with `\n`). A crash in the middle of
//! an append leaves a *torn tail* — a last line without its newline — which [`read`] cuts off
//! (truncating the file to the last complete record, like Mesos's `state.cpp`). A complete line
//! that does not parse is corruption, reported as an error.

use std::io::Write;
use std::path::Path;

use corral_api::v1;
use serde_json::{json, Value as Json};

use super::{create_dirs, sync_dir, MetaError};

/// One record of the log.
#[allow(clippy::large_enum_variant)] // short-lived
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An update the agent took custody of.
    Update(v1::TaskStatus),
    /// The acknowledgement of the update with this uuid.
    Ack(Vec<u8>),
}

impl Record {
    fn to_line(&self) -> Result<Vec<u8>, serde_json::Error> {
        let value = match self {
            Record::Update(status) => json!({ "update": status }),
            Record::Ack(uuid) => json!({ "ack": hex(uuid) }),
        };
        let mut line = serde_json::to_vec(&value)?;
        line.push(b'\n');
        Ok(line)
    }

    fn parse(line: &[u8]) -> Result<Record, String> {
        let value: Json = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        if let Some(update) = value.get("update") {
            let status: v1::TaskStatus =
                serde_json::from_value(update.clone()).map_err(|e| format!("update: {e}"))?;
            return Ok(Record::Update(status));
        }
        if let Some(ack) = value.get("ack").and_then(Json::as_str) {
            return unhex(ack)
                .map(Record::Ack)
                .ok_or_else(|| format!("ack: '{ack}' is not hex"));
        }
        Err("neither 'update' nor 'ack'".to_string())
    }
}

/// Appends `record` to the log at `path` (created with its directories if needed) and fsyncs
/// it before returning.
pub fn append(path: &Path, record: &Record) -> Result<(), MetaError> {
    let line = record
        .to_line()
        .map_err(|e| MetaError::corrupt(path, e.to_string()))?;
    let directory = path.parent().unwrap_or(Path::new("."));
    create_dirs(directory)?;
    let existed = path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(MetaError::io("open", path))?;
    file.write_all(&line)
        .and_then(|()| file.sync_data())
        .map_err(MetaError::io("append to", path))?;
    if !existed {
        sync_dir(directory).map_err(MetaError::io("sync", directory))?;
    }
    Ok(())
}

/// What [`read`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogContents {
    /// The complete records, in order.
    pub records: Vec<Record>,
    /// Bytes of a torn last record that were cut off (0 if none).
    pub truncated: usize,
}

/// Reads the log at `path` (a missing file is an empty log), truncating a torn tail.
pub fn read(path: &Path) -> Result<LogContents, MetaError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LogContents::default())
        }
        Err(source) => {
            return Err(MetaError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let complete = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |last| last + 1);
    let mut records = Vec::new();
    for (number, line) in bytes[..complete].split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let record = Record::parse(line).map_err(|reason| {
            MetaError::corrupt(path, format!("record {}: {reason}", number + 1))
        })?;
        records.push(record);
    }
    let truncated = bytes.len() - complete;
    if truncated > 0 {
        tracing::warn!(
            path = %path.display(),
            bytes = truncated,
            "truncating a torn record at the end of a status update log"
        );
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(MetaError::io("open", path))?;
        file.set_len(complete as u64)
            .and_then(|()| file.sync_all())
            .map_err(MetaError::io("truncate", path))?;
    }
    Ok(LogContents { records, truncated })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}
