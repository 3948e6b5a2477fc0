//! The layering of `src/` (issue 11): no import circle, and no import running up a floor.
//!
//! Every non-test `.rs` file under `src/` is read and each of its ties to another module of
//! the crate is collected: `use crate::…` (groups included), `crate::…` paths in code,
//! `super::…` and `self::…` (resolved to the file they name), and the bare `child::…` paths
//! a module uses for the modules it declares (how `src/edge/mod.rs` and `src/cli/mod.rs`
//! reach their own files). A module is a file: `src/x/mod.rs` is the module `x`, like
//! `src/x.rs`. Test code is not part of the layering: `#[cfg(test)]` items (inline `mod
//! tests { … }`, `#[cfg(test)] mod tests;` and the files it names), files named `tests.rs`
//! and everything in a `tests/` folder inside `src/`.
//!
//! Then two rules, each its own test below: no circle among the files (Tarjan's strongly
//! connected components; a circle is printed with the import lines that tie it, as
//! `file:line`), and every file sits on a floor of [`FLOORS`] and imports only from its own
//! floor or lower ones.
//!
//! The crate root (`src/lib.rs`) only declares the modules and is not part of the check.
//! Comments and string literals are blanked out before reading, so a doc comment that
//! mentions `crate::x` ties nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The floors of `src/`, bottom to top: a file may import from its own floor or a lower one,
/// never from a higher one (within a floor, the no-circle rule still applies).
///
/// `x` names the module `x` (`src/x.rs` or `src/x/mod.rs`); `x/y` the file `src/x/y.rs`;
/// `x/*` the module `x` and every file inside `src/x/`. The most specific entry wins
/// (`admin/calls` over an `admin/*`).
const FLOORS: &[(&str, &[&str])] = &[
    (
        "nouns",
        &[
            "key",
            "index_cache",
            "limits",
            "lease/*",
            "usage",
            "timestamp",
            "percent",
            "hostname",
            "methods",
            "identity",
            "queue",
            "record",
            "page",
            "workspace",
            "session",
            "webhook/*",
            "ambiguity",
            "headers",
            "cors",
            "portal/*",
        ],
    ),
    ("policy", &["policy/*", "config"]),
    (
        "decisions",
        &[
            "delegation",
            "entitlement",
            "authority/*",
            "approval/*",
            "directory",
        ],
    ),
    ("HTTP face", &["problem", "admin/*", "request/*"]),
    ("edge and CLI", &["edge/*", "cli/*", "bin/*"]),
];

#[test]
fn src_has_no_import_circle() {
    let graph = Graph::build(&read_src());
    let circles = graph.circles();
    assert!(
        circles.is_empty(),
        "import circles in src/ (break each one: move what both sides need below them):\n{}",
        graph.describe_circles(&circles)
    );
}

#[test]
fn every_src_file_sits_on_a_floor_and_imports_nothing_above_it() {
    let graph = Graph::build(&read_src());
    let report = graph.check_floors(FLOORS);
    assert!(report.is_empty(), "{report}");
}

/// Every `.rs` file under `src/`, as (path relative to `src/` with `/` separators, text).
fn read_src() -> Vec<(String, String)> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .expect("a UTF-8 file name")
                .to_string();
            if path.is_dir() {
                walk(&path, &format!("{prefix}{name}/"), out);
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                out.push((format!("{prefix}{name}"), text));
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut files,
    );
    files
}

/// One tie from a file to another module of the crate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Import {
    /// The importing module, e.g. `edge/admin`.
    from: String,
    /// The imported module, e.g. `edge`.
    to: String,
    /// 1-based line in the importing file, and that line's text.
    line: usize,
    text: String,
}

/// The modules of the crate's non-test code and the imports between them.
struct Graph {
    /// Module name (`policy/diff`) → file path relative to `src/` (`policy/diff.rs`).
    files: BTreeMap<String, String>,
    imports: Vec<Import>,
}

impl Graph {
    fn build(sources: &[(String, String)]) -> Graph {
        let mut parsed = Vec::new();
        let mut test_modules = BTreeSet::new();
        for (path, text) in sources {
            let Some(module) = module_of(path) else {
                continue;
            };
            let tokens = tokens(&blank_comments_and_literals(text));
            let (code, test_children) = without_test_items(&tokens);
            for child in test_children {
                test_modules.insert(join(&module, &child));
            }
            parsed.push((path, text, module, code));
        }
        let is_test = |path: &str, module: &[String]| {
            let name = module.join("/");
            path.split('/')
                .any(|part| part == "tests" || part == "tests.rs")
                || test_modules
                    .iter()
                    .any(|test| name == *test || name.starts_with(&format!("{test}/")))
        };
        parsed.retain(|(path, _, module, _)| !module.is_empty() && !is_test(path, module));
        let files: BTreeMap<String, String> = parsed
            .iter()
            .map(|(path, _, module, _)| (module.join("/"), path.to_string()))
            .collect();
        let mut found = Vec::new();
        let mut bindings = Bindings::new();
        for (path, text, module, code) in &parsed {
            let is_bin = path.starts_with("bin/");
            for (written, line) in paths(code) {
                let Some(absolute) = absolute_path(module, is_bin, &written) else {
                    continue;
                };
                if let Some(name) = &written.bound_as {
                    bindings
                        .entry(module.join("/"))
                        .or_default()
                        .insert(name.clone(), absolute.clone());
                }
                found.push((module.join("/"), *text, absolute, line, written.re_export));
            }
        }
        let mut imports = Vec::new();
        for (from, text, absolute, line, re_export) in found {
            let Some(to) = reached_module(absolute, &files, &bindings) else {
                continue;
            };
            // A folder's face naming what its own rooms define (`pub use lifecycle::Approval`
            // in `approval/mod.rs`) uses nothing of them: the rooms may build on the face.
            let face_of_its_own_room = re_export && to.starts_with(&format!("{from}/"));
            if to != from && !face_of_its_own_room {
                imports.push(Import {
                    from,
                    to,
                    line,
                    text: text
                        .lines()
                        .nth(line - 1)
                        .map_or(String::new(), |l| l.trim().to_string()),
                });
            }
        }
        imports.sort();
        imports.dedup();
        Graph { files, imports }
    }

    fn file(&self, module: &str) -> String {
        format!("src/{}", self.files[module])
    }

    /// The strongly connected components of more than one module (Tarjan), each sorted.
    fn circles(&self) -> Vec<Vec<String>> {
        struct Tarjan<'g> {
            edges: BTreeMap<&'g str, BTreeSet<&'g str>>,
            index: BTreeMap<&'g str, usize>,
            low: BTreeMap<&'g str, usize>,
            stack: Vec<&'g str>,
            on_stack: BTreeSet<&'g str>,
            components: Vec<Vec<String>>,
        }
        impl<'g> Tarjan<'g> {
            fn visit(&mut self, node: &'g str) {
                let index = self.index.len();
                self.index.insert(node, index);
                self.low.insert(node, index);
                self.stack.push(node);
                self.on_stack.insert(node);
                let next: Vec<&str> = self
                    .edges
                    .get(node)
                    .map_or(Vec::new(), |set| set.iter().copied().collect());
                for to in next {
                    if !self.index.contains_key(to) {
                        self.visit(to);
                        let low = self.low[node].min(self.low[to]);
                        self.low.insert(node, low);
                    } else if self.on_stack.contains(to) {
                        let low = self.low[node].min(self.index[to]);
                        self.low.insert(node, low);
                    }
                }
                if self.low[node] == self.index[node] {
                    let mut component = Vec::new();
                    while let Some(member) = self.stack.pop() {
                        self.on_stack.remove(member);
                        component.push(member.to_string());
                        if member == node {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.components.push(component);
                    }
                }
            }
        }
        let mut tarjan = Tarjan {
            edges: BTreeMap::new(),
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            components: Vec::new(),
        };
        for import in &self.imports {
            tarjan
                .edges
                .entry(import.from.as_str())
                .or_default()
                .insert(import.to.as_str());
        }
        for module in self.files.keys() {
            if !tarjan.index.contains_key(module.as_str()) {
                tarjan.visit(module);
            }
        }
        tarjan.components.sort();
        tarjan.components
    }

    /// Each circle with the import lines among its members.
    fn describe_circles(&self, circles: &[Vec<String>]) -> String {
        let mut out = String::new();
        for members in circles {
            let files: Vec<String> = members.iter().map(|m| self.file(m)).collect();
            let _ = writeln!(
                out,
                "circle of {} files: {}",
                members.len(),
                files.join(", ")
            );
            for import in &self.imports {
                if members.contains(&import.from) && members.contains(&import.to) {
                    let _ = writeln!(
                        out,
                        "  {}:{} -> {}: {}",
                        self.file(&import.from),
                        import.line,
                        self.file(&import.to),
                        import.text
                    );
                }
            }
        }
        out
    }

    /// What breaks the floors: files placed nowhere or twice, and imports from a higher
    /// floor. Empty when all is well.
    fn check_floors(&self, floors: &[(&str, &[&str])]) -> String {
        let mut out = String::new();
        let mut floor_of = BTreeMap::new();
        for module in self.files.keys() {
            match place(module, floors) {
                Ok(Some(floor)) => {
                    floor_of.insert(module.as_str(), floor);
                }
                Ok(None) => {
                    let _ = writeln!(
                        out,
                        "{} is on no floor: place `{module}` in FLOORS (tests/layers.rs)",
                        self.file(module)
                    );
                }
                Err(both) => {
                    let _ = writeln!(
                        out,
                        "{} is placed on two floors ({both}): keep one entry in FLOORS",
                        self.file(module)
                    );
                }
            }
        }
        for import in &self.imports {
            let (Some(&from), Some(&to)) = (
                floor_of.get(import.from.as_str()),
                floor_of.get(import.to.as_str()),
            ) else {
                continue;
            };
            if to > from {
                let _ = writeln!(
                    out,
                    "{}:{} imports up a floor, from {} (floor {} {}) to {} (floor {} {}): {}",
                    self.file(&import.from),
                    import.line,
                    import.from,
                    from + 1,
                    floors[from].0,
                    import.to,
                    to + 1,
                    floors[to].0,
                    import.text
                );
            }
        }
        out
    }
}

/// The floor (index into `floors`) of a module: the most specific entry naming it, an exact
/// name over a folder, a deeper folder over a shallower one. `Err` names two floors when
/// equally specific entries disagree.
fn place(module: &str, floors: &[(&str, &[&str])]) -> Result<Option<usize>, String> {
    let mut best: Option<((usize, usize), usize)> = None;
    let mut clash = None;
    for (floor, (_, names)) in floors.iter().enumerate() {
        for name in names.iter() {
            let specificity = match name.strip_suffix("/*") {
                Some(folder) if module == folder || module.starts_with(&format!("{folder}/")) => {
                    (0, folder.len())
                }
                None if module == *name => (1, name.len()),
                _ => continue,
            };
            match best {
                Some((best_specificity, best_floor)) if best_specificity == specificity => {
                    if best_floor != floor {
                        clash = Some(format!("{} and {}", floors[best_floor].0, floors[floor].0));
                    }
                }
                Some((best_specificity, _)) if best_specificity > specificity => {}
                _ => {
                    best = Some((specificity, floor));
                    clash = None;
                }
            }
        }
    }
    match clash {
        Some(floors) => Err(floors),
        None => Ok(best.map(|(_, floor)| floor)),
    }
}

/// A file's module path: `policy/diff.rs` → `[policy, diff]`, `policy/mod.rs` and
/// `policy.rs` → `[policy]`, `lib.rs` → `[]` (the root). `None` for what is not Rust.
fn module_of(path: &str) -> Option<Vec<String>> {
    let stem = path.strip_suffix(".rs")?;
    let mut segments: Vec<String> = stem.split('/').map(str::to_string).collect();
    if segments.last().is_some_and(|last| last == "mod") {
        segments.pop();
    }
    if segments == ["lib"] {
        segments.clear();
    }
    Some(segments)
}

fn join(module: &[String], child: &str) -> String {
    let mut name = module.join("/");
    if !name.is_empty() {
        name.push('/');
    }
    name.push_str(child);
    name
}

/// Names bound by `use`: module → name → the absolute path of what it binds.
type Bindings = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// The absolute path (from the crate root) a path written in `module` stands for; `None`
/// for paths out of the crate or into an inline module of the file.
fn absolute_path(module: &[String], is_bin: bool, path: &ModulePath) -> Option<Vec<String>> {
    let (first, rest) = path.segments.split_first()?;
    let mut absolute: Vec<String> = match first.as_str() {
        // A binary is its own crate: it reaches the library by its name.
        "keygate" if is_bin => rest.to_vec(),
        _ if is_bin => return None,
        "crate" => rest.to_vec(),
        "self" | "super" => {
            let supers = path
                .segments
                .iter()
                .take_while(|segment| *segment == "super")
                .count();
            // `self::`/`super::` first leave the inline modules around the path.
            let skip = if first == "self" { 1 } else { supers };
            let levels_up = supers.saturating_sub(path.inline_depth);
            if first == "self" && path.inline_depth > 0 || supers > 0 && levels_up == 0 {
                return None;
            }
            let mut base = module.to_vec();
            for _ in 0..levels_up {
                base.pop()?;
            }
            base.extend(path.segments[skip..].iter().cloned());
            base
        }
        _ if path.child_relative => {
            let mut base = module.to_vec();
            base.extend(path.segments.iter().cloned());
            base
        }
        _ => return None,
    };
    if absolute.last().is_some_and(|last| last == "self") {
        absolute.pop();
    }
    Some(absolute)
}

/// The file an absolute path reaches: the longest prefix that is a module with a file, and
/// through a `use` there (`pub use lifecycle::Approval;` in `approval/mod.rs`, or a private
/// `use file::PolicyFile;`, which child modules see too) the file that defines the item, so
/// a child importing `super::Approval` depends on its sibling, not on the `mod.rs` that only
/// passes the name on. `None` when it reaches no file.
fn reached_module(
    mut absolute: Vec<String>,
    files: &BTreeMap<String, String>,
    bindings: &Bindings,
) -> Option<String> {
    // Bounded: re-exports could name each other in a loop.
    for _ in 0..16 {
        let mut prefix = absolute.len();
        while prefix > 0 && !files.contains_key(&absolute[..prefix].join("/")) {
            prefix -= 1;
        }
        if prefix == 0 {
            return None;
        }
        let module = absolute[..prefix].join("/");
        let source = absolute
            .get(prefix)
            .and_then(|name| bindings.get(&module)?.get(name));
        match source {
            Some(source) => {
                let mut next = source.clone();
                next.extend(absolute[prefix + 1..].iter().cloned());
                absolute = next;
            }
            None => return Some(module),
        }
    }
    None
}

/// The text with every comment and string, byte-string, raw-string and char literal
/// replaced by spaces (newlines kept, so lines still count right).
fn blank_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = i == 0 || !is_ident(chars[i - 1]);
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if starts_word && raw_string_hashes(&chars, i).is_some() {
            let (open, hashes) = raw_string_hashes(&chars, i).unwrap_or_default();
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let mut j = i + open;
            while j < chars.len() && !chars[j..].starts_with(&close) {
                j += 1;
            }
            let end = (j + close.len()).min(chars.len());
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A char literal ('x', '\n', '\''); a lifetime ('a) has no closing quote.
            let mut j = if at(i + 1) == '\\' { i + 3 } else { i + 2 };
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            out.extend(chars[i..end].iter().map(|_| ' '));
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// At a raw string's start (`r"`, `r#"`, `br##"`, `cr"`): the length of its opening and its
/// number of `#`.
fn raw_string_hashes(chars: &[char], at: usize) -> Option<(usize, usize)> {
    let mut i = at;
    if matches!(chars.get(i), Some('b' | 'c')) {
        i += 1;
    }
    if chars.get(i) != Some(&'r') {
        return None;
    }
    i += 1;
    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
    i += hashes;
    (chars.get(i) == Some(&'"')).then_some((i + 1 - at, hashes))
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

impl Token {
    fn is(&self, punct: char) -> bool {
        self.tok == Tok::Punct(punct)
    }

    fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(name) => Some(name),
            _ => None,
        }
    }
}

/// Identifiers, `::` and single punctuation characters, each with its line. Numbers are
/// dropped (a suffix like `1u8` is no identifier to follow).
fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            if !c.is_ascii_digit() {
                let word: String = chars[start..i].iter().collect();
                out.push(Token {
                    tok: Tok::Ident(word),
                    line,
                });
            }
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token {
                tok: Tok::PathSep,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(c),
                line,
            });
            i += 1;
        }
    }
    out
}

/// The tokens without the items under `#[cfg(test)]`, and the names of the test modules
/// declared as files (`#[cfg(test)] mod tests;`).
fn without_test_items(tokens: &[Token]) -> (Vec<Token>, Vec<String>) {
    let mut kept = Vec::new();
    let mut test_children = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !is_cfg_test(&tokens[i..]) {
            kept.push(tokens[i].clone());
            i += 1;
            continue;
        }
        i += 7;
        // Further attributes of the same item.
        while tokens.get(i).is_some_and(|t| t.is('#')) {
            i = past_group(tokens, i + 1);
        }
        let item = i;
        // The item ends at its `;` or its `{ … }` block; a `,` or a closer ends a field or
        // an argument.
        let mut depth = 0usize;
        while let Some(token) = tokens.get(i) {
            match token.tok {
                Tok::Punct('(' | '[') => depth += 1,
                Tok::Punct(')' | ']' | '}') if depth == 0 => break,
                Tok::Punct(')' | ']') => depth -= 1,
                Tok::Punct(';' | ',') if depth == 0 => {
                    i += 1;
                    break;
                }
                Tok::Punct('{') if depth == 0 => {
                    i = past_group(tokens, i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        if let Some(name) = declared_file_module(&tokens[item..i]) {
            test_children.push(name);
        }
    }
    (kept, test_children)
}

fn is_cfg_test(tokens: &[Token]) -> bool {
    let shape = ['#', '[', 'c', '(', 't', ')', ']'];
    tokens.len() >= shape.len()
        && tokens.iter().zip(shape).all(|(token, want)| match want {
            'c' => token.ident() == Some("cfg"),
            't' => token.ident() == Some("test"),
            punct => token.is(punct),
        })
}

/// From an opening `[`, `(` or `{` at `open`: the index just past its closer.
fn past_group(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while let Some(token) = tokens.get(i) {
        match token.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// `mod name;` (with any visibility): the name of the file module it declares.
fn declared_file_module(item: &[Token]) -> Option<String> {
    let at = item.iter().position(|t| t.ident() == Some("mod"))?;
    match (item.get(at + 1), item.get(at + 2)) {
        (Some(name), Some(semicolon)) if semicolon.is(';') => name.ident().map(str::to_string),
        _ => None,
    }
}

/// A path as written in a file, with what is needed to resolve it.
#[derive(Debug, PartialEq)]
struct ModulePath {
    segments: Vec<String>,
    /// Inline (non-test) `mod x { … }` blocks around it: a `super::` first leaves those.
    inline_depth: usize,
    /// It starts with a child module the file declares (`admin::handle` in `edge/mod.rs`).
    child_relative: bool,
    /// For a `use` leaf at the file's top: the name it binds there, which the file's child
    /// modules can reach as `super::name` (a private `use` too).
    bound_as: Option<String>,
    /// A `pub use`: the file hands the name on rather than using it.
    re_export: bool,
}

/// Every path of a file's code that can name another module: the leaves of each `use` tree
/// and each path in code starting with `crate`, `self`, `super`, `keygate` or a declared
/// child module. Each with its line.
fn paths(code: &[Token]) -> Vec<(ModulePath, usize)> {
    let children: BTreeSet<String> = (0..code.len())
        .filter_map(|i| {
            let is_item_start = i == 0 || !code[i - 1].tok.eq(&Tok::PathSep);
            is_item_start
                .then(|| declared_file_module(code.get(i..i + 3)?))
                .flatten()
        })
        .collect();
    let mut out = Vec::new();
    // For each open `{`: whether it opens an inline `mod x {`.
    let mut braces: Vec<bool> = Vec::new();
    let mut i = 0;
    while let Some(token) = code.get(i) {
        let after_sep = i > 0 && code[i - 1].tok == Tok::PathSep;
        let inline_depth = braces.iter().filter(|&&inline| inline).count();
        match &token.tok {
            Tok::Punct('{') => {
                let inline =
                    i >= 2 && code[i - 2].ident() == Some("mod") && code[i - 1].ident().is_some();
                braces.push(inline);
                i += 1;
            }
            Tok::Punct('}') => {
                braces.pop();
                i += 1;
            }
            Tok::Ident(word) if word == "use" && !after_sep => {
                let re_export = code[..i].last().and_then(Token::ident) == Some("pub")
                    || (code[..i].last().is_some_and(|t| t.is(')'))
                        && i >= 4
                        && code[i - 4].ident() == Some("pub"));
                let mut leaves = Vec::new();
                i += 1;
                use_tree(code, &mut i, &mut Vec::new(), &mut leaves);
                for (segments, line, bound) in leaves {
                    let child_relative = inline_depth == 0 && children.contains(&segments[0]);
                    out.push((
                        ModulePath {
                            segments,
                            inline_depth,
                            child_relative,
                            bound_as: bound.filter(|_| inline_depth == 0),
                            re_export,
                        },
                        line,
                    ));
                }
                while code.get(i).is_some_and(|t| !t.is(';')) {
                    i += 1;
                }
            }
            Tok::Ident(word)
                if !after_sep && code.get(i + 1).is_some_and(|t| t.tok == Tok::PathSep) =>
            {
                let child_relative = inline_depth == 0 && children.contains(word);
                let keyword = matches!(word.as_str(), "crate" | "self" | "super" | "keygate");
                let line = token.line;
                let mut segments = vec![word.clone()];
                i += 1;
                while code.get(i).is_some_and(|t| t.tok == Tok::PathSep) {
                    match code.get(i + 1).and_then(Token::ident) {
                        Some(segment) => segments.push(segment.to_string()),
                        None => break,
                    }
                    i += 2;
                }
                if keyword || child_relative {
                    out.push((
                        ModulePath {
                            segments,
                            inline_depth,
                            child_relative,
                            bound_as: None,
                            re_export: false,
                        },
                        line,
                    ));
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Reads one use tree at `*i` (`a::b`, `a::{b, c::d}`, `a::*`, `a as b`) and pushes the full
/// path of each leaf with the line it is on and the name it binds (`a::*` gives `a` and no
/// name, `a::{self}` gives `a::self` bound as `a`).
fn use_tree(
    code: &[Token],
    i: &mut usize,
    prefix: &mut Vec<String>,
    leaves: &mut Vec<(Vec<String>, usize, Option<String>)>,
) {
    if code.get(*i).is_some_and(|t| t.tok == Tok::PathSep) {
        *i += 1;
    }
    let Some(token) = code.get(*i) else {
        return;
    };
    if token.is('*') {
        if !prefix.is_empty() {
            leaves.push((prefix.clone(), token.line, None));
        }
        *i += 1;
    } else if token.is('{') {
        *i += 1;
        while let Some(token) = code.get(*i) {
            if token.is('}') {
                *i += 1;
                break;
            }
            if token.is(',') {
                *i += 1;
                continue;
            }
            let before = *i;
            use_tree(code, i, &mut prefix.clone(), leaves);
            if *i == before {
                *i += 1;
            }
        }
    } else if let Some(name) = token.ident() {
        prefix.push(name.to_string());
        let line = token.line;
        *i += 1;
        if code.get(*i).is_some_and(|t| t.tok == Tok::PathSep) {
            use_tree(code, i, prefix, leaves);
        } else {
            let mut bound = match name {
                "self" => prefix.iter().rev().nth(1).cloned(),
                _ => Some(name.to_string()),
            };
            if code.get(*i).and_then(Token::ident) == Some("as") {
                bound = code.get(*i + 1).and_then(Token::ident).map(str::to_string);
                *i += 2;
            }
            leaves.push((prefix.clone(), line, bound));
        }
    }
}

/// The checks on made-up trees: what they must find, and what they must not.
mod synthetic {
    use super::*;

    fn graph(files: &[(&str, &str)]) -> Graph {
        let sources: Vec<(String, String)> = files
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect();
        Graph::build(&sources)
    }

    /// The imports as `from -> to @line`.
    fn ties(graph: &Graph) -> Vec<String> {
        graph
            .imports
            .iter()
            .map(|i| format!("{} -> {} @{}", i.from, i.to, i.line))
            .collect()
    }

    #[test]
    fn a_circle_of_two_files_is_found_and_named_with_its_lines() {
        let graph = graph(&[
            ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
            ("a.rs", "use crate::b::B;\npub struct A;\n"),
            (
                "b.rs",
                "pub struct B;\n\npub fn f() -> crate::a::A { crate::a::A }\n",
            ),
            ("c.rs", "use crate::a::A;\n"),
        ]);
        assert_eq!(
            graph.circles(),
            vec![vec!["a".to_string(), "b".to_string()]]
        );
        let report = graph.describe_circles(&graph.circles());
        assert!(
            report.contains("circle of 2 files: src/a.rs, src/b.rs"),
            "{report}"
        );
        assert!(
            report.contains("src/a.rs:1 -> src/b.rs: use crate::b::B;"),
            "{report}"
        );
        assert!(
            report.contains("src/b.rs:3 -> src/a.rs: pub fn f()"),
            "{report}"
        );
        assert!(!report.contains("src/c.rs"), "{report}");
    }

    #[test]
    fn a_longer_circle_through_super_is_found() {
        let graph = graph(&[
            (
                "edge/mod.rs",
                "mod admin;\nmod platform;\npub fn token() {}\nfn go() { admin::handle() }\n",
            ),
            (
                "edge/admin.rs",
                "use super::platform::now;\npub fn handle() { super::token() }\n",
            ),
            ("edge/platform.rs", "pub fn now() {}\n"),
        ]);
        assert_eq!(
            ties(&graph),
            vec![
                "edge -> edge/admin @4",
                "edge/admin -> edge @2",
                "edge/admin -> edge/platform @1"
            ]
        );
        assert_eq!(
            graph.circles(),
            vec![vec!["edge".to_string(), "edge/admin".to_string()]]
        );
    }

    #[test]
    fn a_name_passed_on_by_a_mod_rs_ties_to_the_file_that_defines_it() {
        let facade = graph(&[
            (
                "approval/mod.rs",
                "mod lifecycle;\nmod view;\nuse lifecycle::{Approval, Status as State};\npub use view::render;\n",
            ),
            ("approval/lifecycle.rs", "pub struct Approval;\npub enum Status {}\n"),
            ("approval/view.rs", "use super::{Approval, State};\npub fn render(_: &Approval) {}\n"),
            ("admin.rs", "use crate::approval::render;\nfn f() { crate::approval::Approval; }\n"),
        ]);
        assert_eq!(
            ties(&facade),
            vec![
                "admin -> approval/lifecycle @2",
                "admin -> approval/view @1",
                "approval -> approval/lifecycle @3",
                "approval/view -> approval/lifecycle @1",
            ]
        );
        assert!(facade.circles().is_empty());
        // A room may build on what its folder's face defines: the face only hands the
        // room's names on. A face whose own code calls into the room is a circle.
        let shared = |face_code: &str| {
            graph(&[
                (
                    "admin/mod.rs",
                    &format!("mod fields;\npub const MAX: usize = 1;\npub use fields::parse;\n{face_code}"),
                ),
                ("admin/fields.rs", "use super::MAX;\npub fn parse() {}\n"),
            ])
            .circles()
        };
        assert!(shared("").is_empty());
        assert_eq!(
            shared("fn check() { fields::parse() }\n"),
            vec![vec!["admin".to_string(), "admin/fields".to_string()]]
        );
    }

    #[test]
    fn no_circle_in_a_tree_that_only_points_down() {
        let graph = graph(&[
            ("a.rs", "use crate::b::B;\nuse crate::c::C;\n"),
            ("b.rs", "use crate::c::C;\n"),
            ("c.rs", "pub struct C;\n"),
        ]);
        assert!(graph.circles().is_empty());
    }

    #[test]
    fn an_import_up_a_floor_is_found() {
        let graph = graph(&[
            (
                "low.rs",
                "pub struct Low;\n\nfn f() -> crate::high::High { todo!() }\n",
            ),
            ("high.rs", "use crate::low::Low;\n"),
        ]);
        let floors: &[(&str, &[&str])] = &[("ground", &["low"]), ("top", &["high"])];
        let report = graph.check_floors(floors);
        assert_eq!(
            report,
            "src/low.rs:3 imports up a floor, from low (floor 1 ground) to high (floor 2 top): \
             fn f() -> crate::high::High { todo!() }\n"
        );
        let flat: &[(&str, &[&str])] = &[("one", &["low", "high"])];
        assert_eq!(graph.check_floors(flat), "");
    }

    #[test]
    fn a_file_on_no_floor_or_two_is_named() {
        let graph = graph(&[
            ("a.rs", ""),
            ("x/mod.rs", "mod y;\n"),
            ("x/y.rs", ""),
            ("x/z/deep.rs", ""),
        ]);
        let floors: &[(&str, &[&str])] = &[("one", &["x/*"]), ("two", &["x/y"])];
        assert_eq!(
            graph.check_floors(floors),
            "src/a.rs is on no floor: place `a` in FLOORS (tests/layers.rs)\n"
        );
        assert_eq!(place("x", floors), Ok(Some(0)));
        assert_eq!(place("x/z/deep", floors), Ok(Some(0)));
        assert_eq!(place("x/y", floors), Ok(Some(1)), "the exact name wins");
        let twice: &[(&str, &[&str])] = &[("one", &["a"]), ("two", &["a"])];
        assert_eq!(place("a", twice), Err("one and two".to_string()));
    }

    #[test]
    fn test_code_ties_nothing() {
        let graph = graph(&[
            (
                "a.rs",
                "pub struct A;\n\
                 #[cfg(test)]\nuse crate::b::B;\n\
                 #[cfg(test)]\n#[allow(unused)]\nmod tests {\n    use crate::c::C;\n    fn f() { crate::b::g(); }\n}\n\
                 #[cfg(test)]\nmod more;\n\
                 pub struct S {\n    #[cfg(test)]\n    probe: crate::b::B,\n    real: u8,\n}\n\
                 fn after() { crate::c::h(); }\n",
            ),
            ("a/more.rs", "use crate::b::B;\n"),
            ("a/tests.rs", "use crate::b::B;\n"),
            ("a/tests/admit.rs", "use crate::b::B;\n"),
            ("b.rs", "pub struct B;\n"),
            ("c.rs", "pub struct C;\n"),
        ]);
        assert_eq!(ties(&graph), vec!["a -> c @17"]);
        assert_eq!(graph.files.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn grouped_and_nested_use_trees_are_read() {
        let graph = graph(&[
            (
                "a.rs",
                "use crate::{b::B, c,\n    d::{self, e::E as F},\n    x::*};\npub use super::b;\n",
            ),
            ("b.rs", ""),
            ("c.rs", ""),
            ("d.rs", "pub mod e;\n"),
            ("d/e.rs", ""),
            ("x.rs", ""),
        ]);
        assert_eq!(
            ties(&graph),
            vec![
                "a -> b @1",
                "a -> b @4",
                "a -> c @1",
                "a -> d @2",
                "a -> d/e @2",
                "a -> x @3"
            ]
        );
    }

    #[test]
    fn crate_paths_in_code_are_caught() {
        let graph = graph(&[
            (
                "a.rs",
                "fn f(x: u8) -> bool {\n    let _ = crate::b::make::<u8>();\n    matches!(x, crate::c::E::V)\n}\n\
                 impl crate::d::Tr for u8 {}\n",
            ),
            ("b.rs", ""),
            ("c.rs", ""),
            ("d.rs", ""),
        ]);
        assert_eq!(ties(&graph), vec!["a -> b @2", "a -> c @3", "a -> d @5"]);
    }

    #[test]
    fn comments_and_string_literals_tie_nothing() {
        let graph = graph(&[
            (
                "a.rs",
                "//! See [`crate::b::B`].\n\
                 /// use crate::b::B;\n\
                 // crate::b::f()\n\
                 /* crate::b /* nested crate::b */ still crate::b */\n\
                 const S: &str = \"use crate::b::B; \\\" crate::b\";\n\
                 const R: &str = r#\"crate::b \" crate::b\"#;\n\
                 const Q: char = '\"';\n\
                 fn f<'a>(x: &'a str) -> &'a str { crate::c::g(); x }\n\
                 const E: char = '\\'';\n\
                 const B: &[u8] = b\"crate::b\";\n",
            ),
            ("b.rs", ""),
            ("c.rs", ""),
        ]);
        assert_eq!(ties(&graph), vec!["a -> c @8"]);
    }

    #[test]
    fn a_folder_module_is_one_module_whichever_file_holds_it() {
        for root in ["policy.rs", "policy/mod.rs"] {
            let graph = graph(&[
                (
                    root,
                    "mod region;\nuse crate::limits::L;\nfn f() { region::g() }\n",
                ),
                (
                    "policy/region.rs",
                    "use super::{Route, Segment};\npub fn g() {}\n",
                ),
                ("limits.rs", ""),
                (
                    "admin.rs",
                    "use crate::policy::Policy;\nuse crate::policy::region::g;\n",
                ),
            ]);
            assert_eq!(
                ties(&graph),
                vec![
                    "admin -> policy @1",
                    "admin -> policy/region @2",
                    "policy -> limits @2",
                    "policy -> policy/region @3",
                    "policy/region -> policy @1",
                ],
                "{root}"
            );
            assert_eq!(graph.file("policy"), format!("src/{root}"));
        }
    }

    #[test]
    fn inline_modules_and_self_stay_in_their_file() {
        let graph = graph(&[
            (
                "a/mod.rs",
                "mod b;\npub mod inner {\n    use super::X;\n    fn f() { self::g(); super::super::c::h(); }\n}\n\
                 use self::b::B;\n",
            ),
            ("a/b.rs", "use super::super::c::C;\nfn f() { self::g() }\n"),
            ("c.rs", ""),
        ]);
        assert_eq!(
            ties(&graph),
            vec!["a -> a/b @6", "a -> c @4", "a/b -> c @1"]
        );
    }

    #[test]
    fn the_binary_reaches_the_library_by_its_name() {
        let graph = graph(&[
            ("bin/keygate.rs", "fn main() { keygate::cli::run(); }\n"),
            ("cli/mod.rs", "pub fn run() {}\n"),
        ]);
        assert_eq!(ties(&graph), vec!["bin/keygate -> cli @1"]);
    }

    #[test]
    fn the_floor_table_names_each_entry_once() {
        let mut seen = BTreeSet::new();
        for (_, names) in FLOORS {
            for name in names.iter() {
                assert!(seen.insert(*name), "{name} is in FLOORS twice");
            }
        }
    }
}
