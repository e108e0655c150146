//! Server-sent events split out of a byte stream, as the WHATWG event-stream rules say, without
//! an allocation per event: lines end at `\n`, `\r\n` or a lone `\r` (also across reads), a
//! leading UTF-8 byte-order mark is dropped, `:` lines are comments, each `data` line's value
//! (less one leading space) joins the event's data with `\n`, and an empty line dispatches the
//! event when it has data. Other fields (`event`, `id`, `retry`) are read past. The caller
//! stamps each read; every event a read completes is handed over with that read's stamp.

/// A line, or an event's data, longer than this many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// The event-stream reader of one response.
#[derive(Debug)]
pub struct SseParser {
    /// The part of a line the last read ended in.
    line: Vec<u8>,
    /// The event's data so far.
    data: Vec<u8>,
    /// Whether the event has a `data` field (it may be empty).
    has_data: bool,
    /// The last read ended in `\r`: a `\n` first in the next is the same line end.
    skip_lf: bool,
    /// Nothing read yet (a byte-order mark may come first).
    start: bool,
    /// Most bytes of a line, or of an event's data.
    cap: usize,
}

impl SseParser {
    /// A reader that fails past `cap` bytes of one line or of one event's data.
    pub fn new(cap: usize) -> Self {
        Self {
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
            skip_lf: false,
            start: true,
            cap,
        }
    }

    /// Read `bytes`; `on_event` gets each event's data as it completes and says whether to go
    /// on (`false`: the rest of the read is left unread). Fails when a line or an event's data
    /// passes the cap.
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        mut on_event: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), TooLong> {
        if self.start && !bytes.is_empty() {
            self.start = false;
            // A mark split over reads is not found; engines send none.
            if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                bytes = rest;
            }
        }
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            let (head, tail) = bytes.split_at(end);
            // A `\r\n` is one line end; a `\r` last in the read may be followed by `\n`.
            bytes = match tail {
                [b'\r', b'\n', rest @ ..] => rest,
                [b'\r'] => {
                    self.skip_lf = true;
                    &[]
                }
                [_, rest @ ..] => rest,
                [] => &[],
            };
            let go_on = if self.line.is_empty() {
                if head.len() > self.cap {
                    return Err(TooLong);
                }
                self.line_done(head, &mut on_event)?
            } else {
                self.push_line(head)?;
                let line = std::mem::take(&mut self.line);
                let go_on = self.line_done(&line, &mut on_event);
                // The buffer is kept for the next split line.
                self.line = line;
                self.line.clear();
                go_on?
            };
            if !go_on {
                return Ok(());
            }
        }
        self.push_line(bytes)
    }

    fn push_line(&mut self, part: &[u8]) -> Result<(), TooLong> {
        if self.line.len() + part.len() > self.cap {
            return Err(TooLong);
        }
        self.line.extend_from_slice(part);
        Ok(())
    }

    /// One whole line: dispatch, comment or field.
    fn line_done(
        &mut self,
        line: &[u8],
        on_event: &mut impl FnMut(&[u8]) -> bool,
    ) -> Result<bool, TooLong> {
        if line.is_empty() {
            if !self.has_data {
                return Ok(true);
            }
            self.has_data = false;
            let go_on = on_event(&self.data);
            self.data.clear();
            return Ok(go_on);
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(0) => return Ok(true),
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if name == b"data" {
            let sep = usize::from(self.has_data);
            if self.data.len() + sep + value.len() > self.cap {
                return Err(TooLong);
            }
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(reads: &[&[u8]]) -> Vec<String> {
        let mut p = SseParser::new(64);
        let mut out = Vec::new();
        for r in reads {
            p.feed(r, |d| {
                out.push(String::from_utf8_lossy(d).into_owned());
                true
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn every_line_end_and_split_reads_give_the_same_events() {
        let want = vec![
            "a".to_owned(),
            "b\nc".to_owned(),
            String::new(),
            "d".to_owned(),
        ];
        // The last event's blank line is followed by one more (an empty line, no event).
        let text = "data: a\n\ndata:b\ndata: c\n\ndata\n\ndata: d\n\n\n";
        for sep in ["\n", "\r\n", "\r"] {
            let t = text.replace('\n', sep);
            assert_eq!(events(&[t.as_bytes()]), want, "{sep:?}");
            // Every pair of split points (three reads, one may be empty), the line ends'
            // halves included.
            let t = t.as_bytes();
            for i in 0..=t.len() {
                for j in i..=t.len() {
                    let got = events(&[&t[..i], &t[i..j], &t[j..]]);
                    assert_eq!(got, want, "{sep:?} split at {i} and {j}");
                }
            }
        }
    }

    #[test]
    fn mixed_line_ends_split_anywhere() {
        // A CRLF then a bare LF: the LF after a CR that ended a read is that CR's, the next
        // one is a line end of its own.
        let t = b"data: a\r\n\ndata: b\r\rdata: c\n\r\n";
        for i in 0..=t.len() {
            for j in i..=t.len() {
                let got = events(&[&t[..i], &t[i..j], &t[j..]]);
                assert_eq!(got, ["a", "b", "c"], "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn comments_other_fields_and_a_byte_order_mark_are_read_past() {
        let got = events(&[
            b"\xEF\xBB\xBF: keep-alive\n\nevent: x\nid: 7\nretry: 5\ndata:  two spaces\n\n",
            b"event: only\n\n",
        ]);
        assert_eq!(got, vec![" two spaces".to_owned()]);
    }

    #[test]
    fn a_line_or_an_event_past_the_cap_fails_and_stop_leaves_the_rest() {
        // A line split over reads, one whole in a read, and data over several lines.
        let mut p = SseParser::new(12);
        assert_eq!(p.feed(b"data: 0123", |_| true), Ok(()));
        assert_eq!(p.feed(b"45678", |_| true), Err(TooLong));
        let mut p = SseParser::new(12);
        assert_eq!(p.feed(b"data: 0123456789\n", |_| true), Err(TooLong));
        let mut p = SseParser::new(12);
        assert_eq!(p.feed(b"data:0123456\n", |_| true), Ok(()));
        assert_eq!(p.feed(b"data:012345\n", |_| true), Err(TooLong));
        let mut n = 0;
        let mut p = SseParser::new(12);
        p.feed(b"data: a\n\ndata: b\n\n", |_| {
            n += 1;
            false
        })
        .unwrap();
        assert_eq!(n, 1);
    }
}
