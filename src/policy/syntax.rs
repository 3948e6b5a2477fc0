//! Every TOML syntax error, unknown field and mistyped value in a policy file that can be
//! found for sure — not only the first, where the toml parser stops.
//!
//! After an error, the file is parsed again from the next table header below the error's
//! line (`[limits]`, `[[routes]]`), as if it began there, and so on; after a syntax error,
//! the whole tables above its line are also judged for their shape (unknown fields, wrong
//! types), which the parser only does once the whole text parses. A header is a place to
//! restart only where the text above it leaves nothing open — no multi-line string, array
//! or inline table — as a small lexer over the whole file tells, so the parser reads what
//! follows exactly as it reads it in the whole file. A restarted parse can therefore miss an
//! error that involves text above the restart (a table declared twice), but never report one
//! that is not there.

use super::PolicyFile;

/// At most this many errors are reported; a file with more has bigger trouble.
const MAX_ERRORS: usize = 20;

/// One error, with its place (both counted from 1; the column in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every error found, in file order; empty when the file has the policy's shape.
pub fn errors(text: &str) -> Vec<SyntaxError> {
    let restarts = restart_points(text);
    let mut errors = Vec::new();
    errors_between(text, 0, text.len(), &restarts, &mut errors);
    errors.truncate(MAX_ERRORS);
    errors
}

/// The errors in `text[start..end]`, where `start` is the file's start or a restart point
/// and `end` the file's end or a restart point.
fn errors_between(
    text: &str,
    mut start: usize,
    end: usize,
    restarts: &[usize],
    errors: &mut Vec<SyntaxError>,
) {
    while errors.len() < MAX_ERRORS {
        let Some(part) = text.get(start..end) else {
            return;
        };
        // Syntax first: the shape is only judged once the whole text parses.
        let error = match toml::from_str::<toml::Table>(part) {
            Err(error) => {
                let at = start + error.span().map_or(0, |span| span.start);
                // The whole tables above the line of a syntax error parsed; judge their shape.
                let line_start = text
                    .get(..at)
                    .and_then(|b| b.rfind('\n'))
                    .map_or(0, |n| n + 1);
                if let Some(&table_end) = restarts
                    .iter()
                    .rev()
                    .find(|&&point| point > start && point <= line_start)
                {
                    errors_between(text, start, table_end, restarts, errors);
                }
                error
            }
            Ok(_) => match toml::from_str::<PolicyFile>(part) {
                Ok(_) => return,
                Err(error) => error,
            },
        };
        let span = error.span();
        let at = start + span.as_ref().map_or(0, |span| span.start);
        let (line, column) = line_and_column(text, at);
        errors.push(SyntaxError {
            line,
            column,
            message: one_line(error.message()),
        });
        if span.is_none() {
            return;
        }
        let end_of_line = text
            .get(at..)
            .and_then(|after| after.find('\n'))
            .map_or(text.len(), |newline| at + newline);
        match restarts
            .iter()
            .find(|&&point| point > end_of_line && point < end)
        {
            Some(&point) => start = point,
            None => return,
        }
    }
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count());
    (before.matches('\n').count() + 1, column + 1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lexed {
    Code,
    Comment,
    Basic,
    Literal,
    MultiBasic,
    MultiLiteral,
}

/// Byte offsets of the lines that hold only a table header with nothing open above them.
fn restart_points(text: &str) -> Vec<usize> {
    let mut points = Vec::new();
    let mut state = Lexed::Code;
    // Open `[` and `{` of values; a header opens and closes its own brackets on its line.
    let mut depth: usize = 0;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        // At depth 0 a line can only open with `[` as a table header, broken or not, and a
        // header never spans lines: its brackets leave nothing open below it.
        let header_line = state == Lexed::Code && depth == 0 && line.trim_start().starts_with('[');
        if header_line && is_table_header(line) {
            points.push(start);
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        while let Some(&byte) = bytes.get(i) {
            let run = |quote: u8| bytes.iter().skip(i).take_while(|b| **b == quote).count();
            match state {
                Lexed::Code => match byte {
                    b'#' => state = Lexed::Comment,
                    b'"' if run(b'"') >= 3 => {
                        state = Lexed::MultiBasic;
                        i += 2;
                    }
                    b'"' => state = Lexed::Basic,
                    b'\'' if run(b'\'') >= 3 => {
                        state = Lexed::MultiLiteral;
                        i += 2;
                    }
                    b'\'' => state = Lexed::Literal,
                    b'[' | b'{' => depth += 1,
                    // A stray closer is an error of its own; nothing is open after it.
                    b']' | b'}' => depth = depth.saturating_sub(1),
                    _ => {}
                },
                Lexed::Comment => {}
                Lexed::Basic | Lexed::MultiBasic if byte == b'\\' => i += 1,
                Lexed::Basic if byte == b'"' => state = Lexed::Code,
                Lexed::Literal if byte == b'\'' => state = Lexed::Code,
                // Up to two quotes may end the content: `"""a""""` is `a"`.
                Lexed::MultiBasic if run(b'"') >= 3 => {
                    state = Lexed::Code;
                    i += run(b'"').min(5) - 1;
                }
                Lexed::MultiLiteral if run(b'\'') >= 3 => {
                    state = Lexed::Code;
                    i += run(b'\'').min(5) - 1;
                }
                _ => {}
            }
            i += 1;
        }
        // Comments and one-line strings end with their line (an unclosed one is an error).
        if matches!(state, Lexed::Comment | Lexed::Basic | Lexed::Literal) {
            state = Lexed::Code;
        }
        if header_line {
            depth = 0;
        }
        start += line.len();
    }
    points
}

/// `[name]`, `[[name]]` or `[a.b]` with bare keys, then at most a comment.
fn is_table_header(line: &str) -> bool {
    let line = line.trim();
    let (inner, after) = if let Some(rest) = line.strip_prefix("[[") {
        match rest.split_once("]]") {
            Some(parts) => parts,
            None => return false,
        }
    } else if let Some(rest) = line.strip_prefix('[') {
        match rest.split_once(']') {
            Some(parts) => parts,
            None => return false,
        }
    } else {
        return false;
    };
    let after = after.trim_start();
    let bare_key = |key: &str| {
        let key = key.trim();
        let mut bytes = key.bytes();
        bytes
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    (after.is_empty() || after.starts_with('#')) && inner.split('.').all(bare_key)
}

#[cfg(test)]
mod tests;
