//! An engine's output: each line goes to its log file and to a bounded in-memory ring. Lines are
//! cut at [`MAX_LINE`] bytes and the file at [`MAX_FILE`], so a flooding engine costs bounded
//! memory and disk.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest line kept, bytes; the rest of a longer line is dropped.
pub(crate) const MAX_LINE: usize = 4096;
/// Largest log file, bytes; later lines only reach the ring.
const MAX_FILE: u64 = 512 << 20;

/// Where an engine's lines go.
pub(crate) struct LogSink {
    inner: Mutex<Inner>,
}

struct Inner {
    ring: VecDeque<String>,
    cap: usize,
    file: Option<File>,
    file_bytes: u64,
    /// The first fatal line seen: "label: line".
    fatal: Option<String>,
}

impl LogSink {
    /// A sink keeping `cap` lines in memory and, with `path`, appending to that file.
    pub fn new(path: Option<&Path>, cap: usize) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(File::options().create(true).append(true).open(p)?),
            None => None,
        };
        Ok(Self {
            inner: Mutex::new(Inner {
                ring: VecDeque::new(),
                cap: cap.max(1),
                file,
                file_bytes: 0,
                fatal: None,
            }),
        })
    }

    /// Record one line of the engine's (without its newline).
    pub fn push(&self, line: String) {
        let fatal = super::kinds::fatal_label(&line);
        self.record(line, fatal);
    }

    fn record(&self, line: String, fatal: Option<&'static str>) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if g.fatal.is_none()
            && let Some(label) = fatal
        {
            g.fatal = Some(format!("{label}: {line}"));
        }
        let n = line.len() as u64 + 1;
        if g.file_bytes + n <= MAX_FILE {
            g.file_bytes += n;
            let ok = g.file.as_mut().map(|f| writeln!(f, "{line}").is_ok());
            if ok == Some(false) {
                g.file = None; // disk full or gone: keep the ring going
            }
        } else if g.file_bytes < MAX_FILE {
            g.file_bytes = MAX_FILE;
            if let Some(f) = g.file.as_mut() {
                let _ = writeln!(
                    f,
                    "[llmsd] log file limit reached; later lines are not kept"
                );
            }
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
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.ring
            .iter()
            .skip(g.ring.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// The first fatal line seen ("port in use: ..."), if any.
    pub fn fatal(&self) -> Option<String> {
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.fatal.clone()
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
        let sink = Arc::new(LogSink::new(Some(&path), 3).unwrap());
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

    #[test]
    fn the_daemons_own_lines_are_never_fatal() {
        let sink = LogSink::new(None, 8).unwrap();
        sink.note(r#"starting: ["llama-server", "--alias", "failed to load model"]"#);
        assert_eq!(sink.fatal(), None);
        sink.push("failed to load model, 'x'".into());
        assert!(sink.fatal().unwrap().starts_with("model failed to load"));
    }
}
