//! Breaking text into rows of a width: prose at spaces, log lines at the width (so their
//! columns stay), continuation rows indented.

/// `text` in rows of at most `width` characters, broken at spaces where one is near (a word
/// longer than a row is broken inside); each line of `text` starts a row; continuation
/// rows start with `indent` spaces.
pub fn words(text: &str, width: usize, indent: usize) -> Vec<String> {
    let width = width.max(indent + 8);
    let mut out = Vec::new();
    for line in text.lines() {
        let mut row = String::new();
        let mut len = 0;
        let mut first_row = true;
        for word in line.split(' ') {
            let wl = word.chars().count();
            let room = width - if first_row { 0 } else { indent };
            if len > 0 && len + 1 + wl > room {
                out.push(row);
                row = " ".repeat(indent);
                len = 0;
                first_row = false;
            } else if len > 0 {
                row.push(' ');
                len += 1;
            }
            let mut rest: Vec<char> = word.chars().collect();
            loop {
                let room = width - if first_row { 0 } else { indent };
                if len + rest.len() <= room {
                    row.extend(rest.iter());
                    len += rest.len();
                    break;
                }
                let take = room.saturating_sub(len);
                row.extend(rest.drain(..take));
                out.push(row);
                row = " ".repeat(indent);
                len = 0;
                first_row = false;
            }
        }
        out.push(row);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// A log line in rows of `width` characters: cut at the width, continuation rows starting
/// with `↪ ` so they read as one line.
pub fn hard(line: &str, width: usize) -> Vec<String> {
    let width = width.max(4);
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= width {
        return vec![line.to_owned()];
    }
    let mut out = vec![chars[..width].iter().collect::<String>()];
    for chunk in chars[width..].chunks(width - 2) {
        out.push(format!("↪ {}", chunk.iter().collect::<String>()));
    }
    out
}

/// The last `h` rows of log `lines` wrapped at `width` ([`hard`]), oldest first.
pub fn tail(lines: &[String], width: usize, h: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for l in lines.iter().rev() {
        if rows.len() >= h {
            break;
        }
        rows.extend(hard(l, width).into_iter().rev());
    }
    rows.truncate(h);
    rows.reverse();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_break_at_spaces_and_indent_what_follows() {
        assert_eq!(
            words("engine llamacpp exited during the point", 20, 2),
            ["engine llamacpp", "  exited during the", "  point"]
        );
        assert_eq!(words("a\nb", 20, 2), ["a", "b"]);
        assert_eq!(
            words("abcdefghijklmnopqrstuvwxyz", 12, 2),
            ["abcdefghijkl", "  mnopqrstuv", "  wxyz"]
        );
    }

    #[test]
    fn log_lines_keep_their_columns() {
        assert_eq!(hard("0123456789", 10), ["0123456789"]);
        assert_eq!(
            hard("0123456789abcdef", 8),
            ["01234567", "↪ 89abcd", "↪ ef"]
        );
    }
}
