//! Reading `/proc/<pid>/stat`. Functions take the proc root as a path so that tests can point
//! them at fixture files.

use std::fs;
use std::io;
use std::path::Path;

/// The fields of `/proc/<pid>/stat` that the containerizer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// `R`, `S`, `D`, `Z`, `T`, … (field 3).
    pub state: char,
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
    /// Session id.
    pub session: u32,
    /// User and system time in clock ticks, of the process itself.
    pub utime: u64,
    pub stime: u64,
    /// User and system time of its waited-for children.
    pub cutime: u64,
    pub cstime: u64,
    pub num_threads: u64,
    /// Clock ticks after boot at which the process started.
    pub start_time: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

impl ProcStat {
    /// Parses the content of a stat file. `None` if it is malformed.
    pub fn parse(content: &str) -> Option<ProcStat> {
        // The command name is in parentheses and may itself contain spaces and ')'.
        let open = content.find('(')?;
        let close = content.rfind(')')?;
        let pid = content.get(..open)?.trim().parse().ok()?;
        let rest: Vec<&str> = content.get(close + 1..)?.split_whitespace().collect();
        // rest[0] is field 3 (state), so field n is rest[n - 3].
        let field = |n: usize| rest.get(n - 3).copied();
        let num = |n: usize| field(n).and_then(|v| v.parse::<u64>().ok());
        // Signed in the kernel's format; clamp the odd negative value to 0.
        let signed = |n: usize| {
            field(n)
                .and_then(|v| v.parse::<i64>().ok())
                .map(|v| v.max(0) as u64)
        };
        Some(ProcStat {
            pid,
            state: field(3)?.chars().next()?,
            ppid: u32::try_from(num(4)?).ok()?,
            pgrp: u32::try_from(num(5)?).ok()?,
            session: u32::try_from(num(6)?).ok()?,
            utime: num(14)?,
            stime: num(15)?,
            cutime: signed(16)?,
            cstime: signed(17)?,
            num_threads: signed(20)?,
            start_time: num(22)?,
            rss_pages: signed(24)?,
        })
    }

    /// A process that ended and waits to be reaped (or is being torn down) runs nothing.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Reads one process. `Ok(None)` if it does not exist (or vanished while being read).
pub fn read_stat(proc_root: &Path, pid: u32) -> io::Result<Option<ProcStat>> {
    match fs::read_to_string(proc_root.join(pid.to_string()).join("stat")) {
        Ok(content) => Ok(ProcStat::parse(&content)),
        Err(e) if vanished(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads every process in the proc root. Processes that vanish during the scan are skipped.
pub fn scan(proc_root: &Path) -> io::Result<Vec<ProcStat>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(proc_root)? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        match read_stat(proc_root, pid) {
            Ok(Some(stat)) => out.push(stat),
            Ok(None) => {}
            // A process can turn unreadable while exiting; it is not one we can act on.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Live processes of a container: in its session or its process group, not zombies.
pub fn live_members(stats: &[ProcStat], session: u32, pgrp: u32) -> Vec<ProcStat> {
    stats
        .iter()
        .filter(|s| (s.session == session || s.pgrp == pgrp) && !s.is_dead())
        .copied()
        .collect()
}

fn vanished(e: &io::Error) -> bool {
    // ESRCH shows up when the process exits between open and read.
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "6605 (cat (x) y) R 6601 6601 2365 0 -1 4194304 100 0 0 0 7 3 2 1 20 0 \
        1 0 24936 3133440 396 18446744073709551615 94912762454016 0 0 0 0 0 0 0 0 0 17 1 0 0\n";

    #[test]
    fn parses_stat_with_odd_comm() {
        let s = ProcStat::parse(SAMPLE).unwrap();
        assert_eq!(s.pid, 6605);
        assert_eq!(s.state, 'R');
        assert_eq!((s.ppid, s.pgrp, s.session), (6601, 6601, 2365));
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (7, 3, 2, 1));
        assert_eq!(s.num_threads, 1);
        assert_eq!(s.start_time, 24936);
        assert_eq!(s.rss_pages, 396);
        assert!(!s.is_dead());
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(ProcStat::parse(""), None);
        assert_eq!(ProcStat::parse("12 (x) R 1 2"), None);
        assert_eq!(ProcStat::parse("x (y) R 1 2 3 4 5 6 7 8 9 10 11 12"), None);
    }

    #[test]
    fn scans_fixture_tree() {
        let dir = tempfile::tempdir().unwrap();
        for (pid, state, sid) in [(10, 'S', 10), (11, 'Z', 10), (12, 'R', 99)] {
            let p = dir.path().join(pid.to_string());
            fs::create_dir(&p).unwrap();
            let stat = format!(
                "{pid} (sh) {state} 1 {sid} {sid} 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 0 3 0\n"
            );
            fs::write(p.join("stat"), stat).unwrap();
        }
        fs::create_dir(dir.path().join("self")).unwrap();
        let all = scan(dir.path()).unwrap();
        assert_eq!(all.len(), 3);
        let members = live_members(&all, 10, 10);
        assert_eq!(members.iter().map(|s| s.pid).collect::<Vec<_>>(), vec![10]);
        assert_eq!(read_stat(dir.path(), 4242).unwrap(), None);
    }
}
