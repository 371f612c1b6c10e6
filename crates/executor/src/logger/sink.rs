//! The file edge of the logger: appending to `<dir>/<name>` and rotating it to
//! `<name>.1` … (logrotate's naming, as Mesos's `LogrotateContainerLogger` leaves them).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::policy::renames;

/// Where a stream's output goes.
pub trait Sink: Send {
    /// Appends `bytes` to the current file.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Starts a new current file, shifting the old ones.
    fn rotate(&mut self) -> io::Result<()>;
    /// The current file's size when the sink was opened.
    fn initial_size(&self) -> u64;
}

/// A rotating file in the sandbox.
#[derive(Debug)]
pub struct FileSink {
    dir: PathBuf,
    name: String,
    max_files: u32,
    file: File,
    initial: u64,
}

impl FileSink {
    /// Opens (appending) `<dir>/<name>`.
    pub fn open(dir: &Path, name: &str, max_files: u32) -> io::Result<Self> {
        let path = dir.join(name);
        let file = open_append(&path)?;
        let initial = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            max_files,
            file,
            initial,
        })
    }

    fn path(&self, suffix: Option<u32>) -> PathBuf {
        match suffix {
            None => self.dir.join(&self.name),
            Some(n) => self.dir.join(format!("{}.{n}", self.name)),
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Sink for FileSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }

    fn rotate(&mut self) -> io::Result<()> {
        for (from, to) in renames(self.max_files) {
            match to {
                None => match std::fs::remove_file(self.path(from)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                },
                Some(_) => match std::fs::rename(self.path(from), self.path(to)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                },
            }
        }
        self.file = open_append(&self.path(None))?;
        Ok(())
    }

    fn initial_size(&self) -> u64 {
        self.initial
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rotation_shifts_files_and_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = FileSink::open(dir.path(), "stdout", 3).unwrap();
        for text in ["a", "b", "c", "d"] {
            sink.write(text.as_bytes()).unwrap();
            sink.rotate().unwrap();
        }
        sink.write(b"e").unwrap();
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert_eq!(read("stdout"), "e");
        assert_eq!(read("stdout.1"), "d");
        assert_eq!(read("stdout.2"), "c");
        assert!(!dir.path().join("stdout.3").exists());
        let reopened = FileSink::open(dir.path(), "stdout", 3).unwrap();
        assert_eq!(reopened.initial_size(), 1);
    }
}
