use super::*;
use proptest::prelude::*;

const SHIPPED: [&str; 6] = [
    include_str!("../../../policies/demo.toml"),
    include_str!("../../../policies/seed-000-ladders.toml"),
    include_str!("../../../policies/seed-001-simple.toml"),
    include_str!("../../../policies/seed-002-read-write.toml"),
    include_str!("../../../policies/seed-003-modules.toml"),
    include_str!("../../../policies/seed-004-coarse.toml"),
];

fn places(text: &str) -> Vec<(usize, usize)> {
    errors(text).iter().map(|e| (e.line, e.column)).collect()
}

#[test]
fn a_valid_file_has_no_errors() {
    for text in SHIPPED {
        assert_eq!(errors(text), []);
    }
}

#[test]
fn errors_in_several_tables_are_all_reported_with_their_places() {
    let text = "\
key_prefix = \"kg\"
[limits
per_minute = 10

[[resources]]
name = \"contacts\"
kind = = \"ladder\"

[[routes]]
method = \"GET\"
path = \"/v1/contacts\"
resource = \"contacts\"
action = \"read\"
";
    let found = errors(text);
    assert_eq!(places(text), [(2, 8), (7, 8)], "{found:?}");
    assert!(
        found[0].message.contains("invalid table header"),
        "{found:?}"
    );
}

#[test]
fn the_tables_above_a_syntax_error_are_judged_for_their_shape() {
    let text = "\
key_prefix = \"kg
[limits]
per_minute = 10
per_dya = 5

[[resources]]
name = \"invoices\"
kind \"ladder\"
";
    let found = errors(text);
    assert_eq!(places(text), [(1, 17), (4, 1), (8, 6)], "{found:?}");
    assert!(
        found[1].message.contains("unknown field `per_dya`"),
        "{found:?}"
    );
}

#[test]
fn unknown_fields_and_wrong_types_are_all_reported() {
    let text = "\
[limits]
per_minute = \"ten\"

[[resources]]
name = \"contacts\"
kind = \"ladder\"
colour = \"blue\"

[[routes]]
metod = \"GET\"
path = \"/v1/contacts\"
resource = \"contacts\"
action = \"read\"
";
    let found = errors(text);
    assert_eq!(
        found.iter().map(|e| e.line).collect::<Vec<_>>(),
        [2, 7, 10],
        "{found:?}"
    );
    assert!(
        found[1].message.contains("unknown field `colour`"),
        "{found:?}"
    );
    assert!(
        found[2].message.contains("unknown field `metod`"),
        "{found:?}"
    );
}

#[test]
fn a_header_inside_a_multi_line_string_or_array_is_no_place_to_restart() {
    // Restarting at the `[[routes]]` inside the string would report its closing quotes.
    let text = "\
key_prefix = 7
[[resources]]
name = \"contacts\"
kind = \"ladder\"
description = \"\"\"
[[routes]]
\"\"\"
";
    assert_eq!(places(text), [(1, 14)]);
    let text = "\
coarse_scopes = [
  \"read:all\" \"admin\",
  [nested]
]
";
    assert_eq!(errors(text).len(), 1);
    let text = "\
description = '''
[limits]
'''
per_minute = x
";
    assert_eq!(errors(text).len(), 1);
}

#[test]
fn the_lexer_finds_only_headers_with_nothing_open() {
    let text = "a = 1\n[limits]\nb = [\n[x]\n]\n  [[routes]]  # c\ns = \"[y]\"\n[\"quoted\"]\n";
    let points: Vec<&str> = restart_points(text)
        .into_iter()
        .map(|at| text[at..].lines().next().unwrap())
        .collect();
    assert_eq!(points, ["[limits]", "  [[routes]]  # c"]);
}

/// 30 inline tables, each under a dotted key of 79 parts: every part and every table
/// within toml's limits, 2,400 levels in all. Without the bound, `policy check` on it
/// overflowed the stack (the `policy_toml` fuzz target's SIGSEGV).
pub(crate) fn deep_inline_tables() -> String {
    let key = vec!["a"; 79].join(".");
    format!(
        "{}x = 1{}",
        format!("{key} = {{").repeat(30),
        "}".repeat(30)
    )
}

#[test]
fn nesting_deeper_than_the_bound_is_one_error_found_before_parsing() {
    let found = errors(&deep_inline_tables());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].line, found[0].column), (1, 66));
    assert_eq!(
        found[0].message,
        "tables, arrays and dotted keys nest deeper than 32 levels"
    );
}

#[test]
fn nesting_is_counted_generously_and_only_in_code() {
    let dotted = |parts: usize| vec!["a"; parts].join(".");
    let cases = [
        // (text, refused)
        (format!("{} = 1", dotted(33)), false),
        (format!("{} = 1", dotted(34)), true),
        (format!("[{}]\nx = 1", dotted(32)), false),
        (format!("[{}]\nx = 1", dotted(33)), true),
        // A table's keys start at the table's depth; `[[x]]` is one deeper than `[x]`.
        (format!("[{}]\n{} = 1", dotted(16), dotted(17)), false),
        (format!("[{}]\n{} = 1", dotted(16), dotted(18)), true),
        (format!("[[{}]]\n{} = 1", dotted(16), dotted(17)), true),
        (format!("a = {}{}", "[".repeat(32), "]".repeat(32)), false),
        (format!("a = {}{}", "[".repeat(33), "]".repeat(33)), true),
        // Elements and keys after a comma start again from their container.
        (format!("a = [{}]", vec!["[[1]]"; 40].join(", ")), false),
        (
            format!("a = {{ {} }}", vec![dotted(30); 3].join(" = 1, ")),
            false,
        ),
        // Closed values end their depth; a multi-line array keeps it open.
        (
            format!(
                "a = {}\nb = {}",
                "[".repeat(20) + &"]".repeat(20),
                "[".repeat(20) + &"]".repeat(20)
            ),
            false,
        ),
        (format!("a = {}\n{}", "[".repeat(20), "[".repeat(20)), true),
        // Dots and brackets in strings and comments are not structure.
        (format!("a = \"{}\"", ".[{".repeat(50)), false),
        (format!("'{}' = 1", ".".repeat(50)), false),
        (format!("a = 1 # {}", "[{.".repeat(50)), false),
        (format!("a = \"\"\"\n{}\n\"\"\"", "[a.a]".repeat(50)), false),
    ];
    for (text, refused) in cases {
        assert_eq!(too_deep(&text).is_some(), refused, "{text}");
    }
    for text in SHIPPED {
        assert_eq!(too_deep(text), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Breaking some lines of a valid policy: at least one error is found, and every error
    /// found is on a broken line.
    #[test]
    fn every_error_reported_is_on_a_broken_line(
        which in 0..SHIPPED.len(),
        breaks in prop::collection::btree_map(0usize..400, 0usize..5, 1..5),
    ) {
        let original: Vec<&str> = SHIPPED[which].lines().collect();
        let mut lines: Vec<String> = Vec::new();
        let mut broken: Vec<usize> = Vec::new();
        for (number, line) in original.iter().enumerate() {
            if let Some(kind) = breaks.get(&number) {
                let garbage = ["this is not toml", "x = ", "[[routes]", "nonsense_field = 1", "= 3"][*kind];
                lines.push(garbage.to_string());
                broken.push(lines.len());
            }
            lines.push(line.to_string());
        }
        prop_assume!(!broken.is_empty());
        let text = lines.join("\n");
        let found = errors(&text);
        prop_assert!(!found.is_empty());
        for error in &found {
            prop_assert!(broken.contains(&error.line), "{:?} not on a broken line {:?}", error, broken);
        }
    }
}
