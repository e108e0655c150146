//! An engine's output: each line goes to its log file and to a bounded in-memory ring. Lines are
//! cut at [`MAX_LINE`] bytes; a file that reaches its cap (`engine_log_max_mb` in the daemon's
//! config, [`DEFAULT_MAX_FILE`] by default) is rotated to `NAME.1` (replacing the previous
//! one), so a flooding engine costs bounded memory and at most twice the cap on disk.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest line kept, bytes; the rest of a longer line is dropped.
pub(crate) const MAX_LINE: usize = 4096;
/// Default largest log file, bytes, before it is rotated.
pub(crate) const DEFAULT_MAX_FILE: u64 = 64 << 20;

/// Where an engine's lines go.
pub(crate) struct LogSink {
    inner: Mutex<Inner>,
}

struct Inner {
    ring: VecDeque<String>,
    cap: usize,
    file: Option<File>,
    file_bytes: u64,
    path: Option<std::path::PathBuf>,
    max_file: u64,
    /// The first fatal line seen: "label: line".
    fatal: Option<String>,
}

impl LogSink {
    /// A sink keeping `cap` lines in memory and, with `path`, appending to that file, rotated
    /// at `max_file` bytes.
    pub fn with_max(path: Option<&Path>, cap: usize, max_file: u64) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(File::options().create(true).append(true).open(p)?),
            None => None,
        };
        // A file that already exists (an earlier run's, should an id come again) counts
        // what it already holds.
        let held = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        Ok(Self {
            inner: Mutex::new(Inner {
                ring: VecDeque::new(),
                cap: cap.max(1),
                file,
                file_bytes: held,
                path: path.map(Path::to_path_buf),
                max_file: max_file.max(4096),
                fatal: None,
            }),
        })
    }

    /// Record one line of the engine's (without its newline).
    pub fn push(&self, line: String) {
        let fatal = crate::kinds::fatal_label(&line);
        self.record(line, fatal);
    }

    fn record(&self, line: String, fatal: Option<&'static str>) {
        let mut g = crate::sync::lock(&self.inner);
        if g.fatal.is_none()
            && let Some(label) = fatal
        {
            g.fatal = Some(format!("{label}: {line}"));
        }
        let n = line.len() as u64 + 1;
        if g.file_bytes + n > g.max_file {
            g.rotate();
        }
        g.file_bytes += n;
        let ok = g.file.as_mut().map(|f| writeln!(f, "{line}").is_ok());
        if ok == Some(false) {
            g.file = None; // disk full or gone: keep the ring going
        }
        if g.ring.len() == g.cap {
            g.ring.pop_front();
        }
        g.ring.push_back(line);
    }

    /// A line of the daemon's own about this engine: never taken for the engine's fatal
    /// error, whatever it quotes (its command line may name "out of memory").
    pub fn note(&self, msg: &str) {
        self.record(format!("[llmsd] {msg}"), None);
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let g = crate::sync::lock(&self.inner);
        g.ring
            .iter()
            .skip(g.ring.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// The first fatal line seen ("port in use: ..."), if any.
    pub fn fatal(&self) -> Option<String> {
        let g = crate::sync::lock(&self.inner);
        g.fatal.clone()
    }
}

impl Inner {
    /// Move the full file to `NAME.1` and start a new one.
    fn rotate(&mut self) {
        self.file_bytes = 0;
        let Some(path) = &self.path else {
            return;
        };
        let mut old = path.as_os_str().to_os_string();
        old.push(".1");
        self.file = std::fs::rename(path, &old)
            .and_then(|()| File::options().create(true).append(true).open(path))
            .ok();
        if let Some(f) = self.file.as_mut() {
            let _ = writeln!(
                f,
                "[llmsd] log rotated; earlier lines are in {}",
                old.to_string_lossy()
            );
        }
    }
}

/// Feed `reader` into `sink` line by line until end of file.
pub(crate) async fn pump(mut reader: impl AsyncRead + Unpin, sink: Arc<LogSink>) {
    let mut buf = vec![0u8; 16 << 10];
    let mut line: Vec<u8> = Vec::new();
    let mut cut = false;
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for part in buf[..n].split_inclusive(|b| *b == b'\n') {
            let (body, end) = match part.strip_suffix(b"\n") {
                Some(b) => (b, true),
                None => (part, false),
            };
            let room = MAX_LINE - line.len();
            cut |= body.len() > room;
            line.extend_from_slice(&body[..body.len().min(room)]);
            if end {
                sink.push(finish(&mut line, &mut cut));
            }
        }
    }
    if !line.is_empty() {
        sink.push(finish(&mut line, &mut cut));
    }
}

fn finish(line: &mut Vec<u8>, cut: &mut bool) -> String {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let mut s = String::from_utf8_lossy(line).into_owned();
    if std::mem::take(cut) {
        s.push_str(" [line cut]");
    }
    line.clear();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_ring_file_and_long_lines() {
        let dir = std::env::temp_dir().join(format!("llms-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("e.log");
        let _ = std::fs::remove_file(&path);
        let sink = Arc::new(LogSink::with_max(Some(&path), 3, DEFAULT_MAX_FILE).unwrap());
        let long = "x".repeat(MAX_LINE * 3);
        let text = format!("a\r\nb\n{long}\nAddress already in use\nlast");
        pump(text.as_bytes(), sink.clone()).await;
        let tail = sink.tail(10);
        assert_eq!(tail.len(), 3);
        assert_eq!(tail[0].len(), MAX_LINE + " [line cut]".len());
        assert_eq!(&tail[1..], ["Address already in use", "last"]);
        assert_eq!(sink.tail(1), ["last"]);
        assert_eq!(
            sink.fatal().as_deref(),
            Some("port in use: Address already in use")
        );
        let file = std::fs::read_to_string(&path).unwrap();
        assert!(file.starts_with("a\nb\nxxx"), "{}", &file[..10]);
        assert_eq!(file.lines().count(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_flooding_engine_is_rotated_at_the_cap() {
        let dir = std::env::temp_dir().join(format!("llms-logs-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("e.log");
        let sink = Arc::new(LogSink::with_max(Some(&path), 8, 64 * 1024).unwrap());
        // 4 MB of lines into a 64 KiB cap: two files of at most the cap remain.
        let flood = "spam spam spam spam spam spam spam spam spam spam spam spam\n".repeat(70_000);
        pump(flood.as_bytes(), sink.clone()).await;
        let a = std::fs::metadata(&path).unwrap().len();
        let b = std::fs::metadata(dir.join("e.log.1")).unwrap().len();
        assert!(a <= 64 * 1024 + 200 && b <= 64 * 1024 + 200, "{a} {b}");
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(
            first.starts_with("[llmsd] log rotated; earlier lines are in"),
            "{}",
            &first[..60]
        );
        assert_eq!(sink.tail(1).len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_daemons_own_lines_are_never_fatal() {
        let sink = LogSink::with_max(None, 8, DEFAULT_MAX_FILE).unwrap();
        sink.note(r#"starting: ["llama-server", "--alias", "failed to load model"]"#);
        assert_eq!(sink.fatal(), None);
        sink.push("failed to load model, 'x'".into());
        assert!(sink.fatal().unwrap().starts_with("model failed to load"));
    }
}
