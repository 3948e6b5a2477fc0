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

use super::file::PolicyFile;

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
    if let Some(too_deep) = too_deep(text) {
        return vec![too_deep];
    }
    let restarts = restart_points(text);
    let mut errors = Vec::new();
    errors_between(text, 0, text.len(), &restarts, &mut errors);
    errors.truncate(MAX_ERRORS);
    errors
}

/// How deep a policy file may nest tables and arrays. A policy needs three levels
/// (`[[routes]]`, a route's table, an array in it). toml's parser stops at 80 levels of
/// arrays and inline tables and at 80 parts of a dotted key, but not at their product:
/// `a.a.a… = {a.a.a… = {…}}` nests thousands of tables in a few kilobytes, and toml's
/// deserialiser recurses about seven frames per level, so 2,400 levels overflowed an
/// 8 MiB stack (SIGSEGV in the `policy_toml` fuzz target).
pub const MAX_NESTING: usize = 32;

/// The first place where `text` nests deeper than [`MAX_NESTING`], checked on the text
/// before any TOML parser sees it. The count is generous, never short: each part of a
/// dotted key or header, each `[` and `{` is a level (a dot in a number too), so a file
/// under the bound has no structure deeper than it.
pub fn too_deep(text: &str) -> Option<SyntaxError> {
    let mut lexer = Lexer::default();
    // The depth of the keys of the current `[table]`, and of the inside of each open value.
    let mut table_depth = 0;
    let mut open: Vec<usize> = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let header = lexer.in_code() && open.is_empty() && line.trim_start().starts_with('[');
        let mut depth = if header {
            0
        } else {
            open.last().copied().unwrap_or(table_depth)
        };
        let mut header_depth = 0;
        let mut deepest = None;
        lexer.line(line, |at, byte| {
            match byte {
                b'.' => depth += 1,
                b'[' | b'{' => {
                    depth += 1;
                    if !header {
                        open.push(depth);
                    }
                }
                // The next element or key starts from its container's depth again.
                b',' => depth = open.last().copied().unwrap_or(table_depth),
                b']' | b'}' if header => header_depth = header_depth.max(depth),
                b']' | b'}' => {
                    open.pop();
                    depth = open.last().copied().unwrap_or(table_depth);
                }
                _ => {}
            }
            if depth > MAX_NESTING && deepest.is_none() {
                deepest = Some(start + at);
            }
        });
        if let Some(at) = deepest {
            let (line, column) = line_and_column(text, at);
            return Some(SyntaxError {
                line,
                column,
                message: format!(
                    "tables, arrays and dotted keys nest deeper than {MAX_NESTING} levels"
                ),
            });
        }
        if header {
            table_depth = header_depth;
        }
        start += line.len();
    }
    None
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Lexed {
    #[default]
    Code,
    Comment,
    Basic,
    Literal,
    MultiBasic,
    MultiLiteral,
}

/// Reads a TOML text line by line and tells which bytes are code, outside comments and
/// strings; only what a string or comment can hide matters here, not whether it is valid.
#[derive(Default)]
struct Lexer {
    state: Lexed,
}

impl Lexer {
    /// Whether the next line starts in code (not inside a multi-line string).
    fn in_code(&self) -> bool {
        self.state == Lexed::Code
    }

    /// Reads one line (with its newline, if any), calling `code` with the offset in the
    /// line of each byte that is code.
    fn line(&mut self, line: &str, mut code: impl FnMut(usize, u8)) {
        let bytes = line.as_bytes();
        let mut i = 0;
        while let Some(&byte) = bytes.get(i) {
            let run = |quote: u8| bytes.iter().skip(i).take_while(|b| **b == quote).count();
            match self.state {
                Lexed::Code => match byte {
                    b'#' => self.state = Lexed::Comment,
                    b'"' if run(b'"') >= 3 => {
                        self.state = Lexed::MultiBasic;
                        i += 2;
                    }
                    b'"' => self.state = Lexed::Basic,
                    b'\'' if run(b'\'') >= 3 => {
                        self.state = Lexed::MultiLiteral;
                        i += 2;
                    }
                    b'\'' => self.state = Lexed::Literal,
                    _ => code(i, byte),
                },
                Lexed::Comment => {}
                Lexed::Basic | Lexed::MultiBasic if byte == b'\\' => i += 1,
                Lexed::Basic if byte == b'"' => self.state = Lexed::Code,
                Lexed::Literal if byte == b'\'' => self.state = Lexed::Code,
                // Up to two quotes may end the content: `"""a""""` is `a"`.
                Lexed::MultiBasic if run(b'"') >= 3 => {
                    self.state = Lexed::Code;
                    i += run(b'"').min(5) - 1;
                }
                Lexed::MultiLiteral if run(b'\'') >= 3 => {
                    self.state = Lexed::Code;
                    i += run(b'\'').min(5) - 1;
                }
                _ => {}
            }
            i += 1;
        }
        // Comments and one-line strings end with their line (an unclosed one is an error).
        if matches!(self.state, Lexed::Comment | Lexed::Basic | Lexed::Literal) {
            self.state = Lexed::Code;
        }
    }
}

/// Byte offsets of the lines that hold only a table header with nothing open above them.
fn restart_points(text: &str) -> Vec<usize> {
    let mut points = Vec::new();
    let mut lexer = Lexer::default();
    // Open `[` and `{` of values; a header opens and closes its own brackets on its line.
    let mut depth: usize = 0;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        // At depth 0 a line can only open with `[` as a table header, broken or not, and a
        // header never spans lines: its brackets leave nothing open below it.
        let header_line = lexer.in_code() && depth == 0 && line.trim_start().starts_with('[');
        if header_line && is_table_header(line) {
            points.push(start);
        }
        lexer.line(line, |_, byte| match byte {
            b'[' | b'{' => depth += 1,
            // A stray closer is an error of its own; nothing is open after it.
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        });
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
pub(super) mod tests;
