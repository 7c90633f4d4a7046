//! The import rules of the house (README "Layout"), checked on the source text so they stay
//! true: arrows point one way, `tui`/`cli` → `service` → `store`/`directory` → `domain`.
//!
//! The scanner reads every `.rs` file under `src/`, blanks out comments and string/char
//! literals (a doc comment may name `crate::app`), and collects the first segment of every
//! `crate::…` path, grouped `use crate::{a::…, b}` imports included. A rule names the folders
//! it covers and the top-level modules they must not name. Limits: it does not resolve
//! `super::super::…` chains or macro-generated paths — the house writes `crate::` paths.

use std::path::{Path, PathBuf};

/// One import rule: no file under any of `under` (folders of `src/`, or single files such as
/// `app.rs`) names `crate::<forbidden>`.
struct Rule {
    under: &'static [&'static str],
    forbidden: &'static str,
    why: &'static str,
}

/// Every rule of issue #18's Must-show, plus the ones that make "no module imports `cli`
/// except `main`" and "nothing below the front ends imports them" hold.
const RULES: &[Rule] = &[
    Rule {
        under: &[
            "tui",
            "service",
            "store",
            "directory",
            "domain",
            "app.rs",
            "demo.rs",
            "config.rs",
            "files.rs",
            "localpg.rs",
            "lib.rs",
        ],
        forbidden: "cli",
        why: "no module imports `cli` except `main`",
    },
    Rule {
        under: &["store", "directory", "domain"],
        forbidden: "service",
        why: "nothing below `service` imports `service`",
    },
    Rule {
        under: &["tui", "cli"],
        forbidden: "store",
        why: "the front ends reach the database only through `service`",
    },
    Rule {
        under: &["store"],
        forbidden: "directory",
        why: "`store` never imports `directory` (shared types live in `domain`)",
    },
    Rule {
        under: &["service", "store", "directory", "domain"],
        forbidden: "tui",
        why: "nothing below the front ends imports the console",
    },
    Rule {
        under: &["service", "store", "directory", "domain"],
        forbidden: "app",
        why: "the composition root sits on top",
    },
    Rule {
        under: &["domain"],
        forbidden: "store",
        why: "`domain` is plain types and rules, no I/O",
    },
    Rule {
        under: &["domain"],
        forbidden: "directory",
        why: "`domain` is plain types and rules, no I/O",
    },
];

/// A `crate::<module>` use found in a file.
#[derive(Debug, PartialEq, Eq)]
struct CratePath {
    line: usize,
    module: String,
}

/// The source with comments and string/char literals replaced by spaces (newlines kept, so
/// line numbers stay true).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && ident(c[i - 1]);
        // Line comment (doc comments included).
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
            continue;
        }
        // Block comment, nested.
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            continue;
        }
        // Raw string: r"…", r#"…"#, br#"…"# (the `b` is kept as an identifier char before).
        if c[i] == 'r' && (!prev_ident || (i > 0 && c[i - 1] == 'b' && !(i > 1 && ident(c[i - 2]))))
        {
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            if c.get(j) == Some(&'"') {
                let hashes = j - i - 1;
                let mut k = j + 1;
                loop {
                    if k >= c.len() {
                        break;
                    }
                    if c[k] == '"' && (1..=hashes).all(|h| c.get(k + h) == Some(&'#')) {
                        k += 1 + hashes;
                        break;
                    }
                    k += 1;
                }
                for &ch in &c[i..k.min(c.len())] {
                    blank(&mut out, ch);
                }
                i = k;
                continue;
            }
        }
        // String (and byte string: the `b` before stays as code, harmlessly).
        if c[i] == '"' {
            blank(&mut out, c[i]);
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' && i + 1 < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
            if i < c.len() {
                blank(&mut out, c[i]);
                i += 1;
            }
            continue;
        }
        // Char literal ('x', '\n', '\'', '\u{1b}', '"'); a lifetime ('a) is left as code. After
        // a backslash the escaped character is skipped before looking for the closing quote.
        if c[i] == '\'' {
            let end = if c.get(i + 1) == Some(&'\\') {
                (i + 3..c.len().min(i + 12)).find(|&k| c[k] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = end {
                for &ch in &c[i..=end] {
                    blank(&mut out, ch);
                }
                i = end + 1;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// Every `crate::<module>` named in `src` (grouped imports expanded to their first segments).
fn crate_paths(src: &str) -> Vec<CratePath> {
    let code = code_only(src);
    let c: Vec<char> = code.chars().collect();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let line_at = |i: usize| c[..i].iter().filter(|&&ch| ch == '\n').count() + 1;
    let skip_ws = |mut i: usize| {
        while i < c.len() && c[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let read_ident = |i: usize| {
        let mut j = i;
        while j < c.len() && ident(c[j]) {
            j += 1;
        }
        (c[i..j].iter().collect::<String>(), j)
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i + 5 <= c.len() {
        let at_word = c[i..i + 5].iter().collect::<String>() == "crate"
            && (i == 0 || !(ident(c[i - 1]) || c[i - 1] == '$'))
            && c.get(i + 5).is_none_or(|&ch| !ident(ch));
        if !at_word {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = skip_ws(i + 5);
        if !(c.get(j) == Some(&':') && c.get(j + 1) == Some(&':')) {
            i += 5;
            continue;
        }
        j = skip_ws(j + 2);
        if c.get(j) == Some(&'{') {
            // `crate::{a::b, c, d::{e, f}}`: the first segment of every top-level item.
            let mut depth = 0;
            let mut expect_item = true;
            let mut k = j;
            while k < c.len() {
                match c[k] {
                    '{' => {
                        depth += 1;
                        k += 1;
                    }
                    '}' => {
                        depth -= 1;
                        k += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        expect_item = true;
                        k += 1;
                    }
                    ch if depth == 1 && expect_item && ident(ch) => {
                        let (name, end) = read_ident(k);
                        if name != "self" {
                            found.push(CratePath {
                                line: line_at(k),
                                module: name,
                            });
                        }
                        expect_item = false;
                        k = end;
                    }
                    _ => k += 1,
                }
            }
            i = k;
        } else {
            let (name, end) = read_ident(j);
            if !name.is_empty() {
                found.push(CratePath {
                    line: line_at(start),
                    module: name,
                });
            }
            i = end.max(start + 5);
        }
    }
    found
}

/// Whether `rel` (a path relative to `src/`, with `/`) is covered by `under`.
fn covered(rel: &str, under: &str) -> bool {
    if under.ends_with(".rs") {
        rel == under
    } else {
        rel.starts_with(&format!("{under}/"))
    }
}

/// Every `.rs` file below `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every broken rule in the tree rooted at `src`, one line each.
fn violations(src: &Path, rules: &[Rule]) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(src) {
        let rel = file
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&file).unwrap();
        let paths = crate_paths(&text);
        for rule in rules {
            if !rule.under.iter().any(|u| covered(&rel, u)) {
                continue;
            }
            for p in paths.iter().filter(|p| p.module == rule.forbidden) {
                out.push(format!(
                    "src/{rel}:{}: crate::{} — {}",
                    p.line, p.module, rule.why
                ));
            }
        }
    }
    out
}

#[test]
fn the_import_rules_hold() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src);
    assert!(
        files.len() > 50,
        "the scanner found only {} files under {}",
        files.len(),
        src.display()
    );
    // The scanner sees the arrows that are allowed, so an empty result is not a blind one.
    let service_mod = std::fs::read_to_string(src.join("service/mod.rs")).unwrap();
    assert!(
        crate_paths(&service_mod)
            .iter()
            .any(|p| p.module == "directory"),
        "the scanner missed service → directory"
    );
    let broken = violations(&src, RULES);
    assert!(
        broken.is_empty(),
        "import rules broken:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn scanner_finds_plain_grouped_and_nested_crate_paths() {
    let src = "use crate::service::Services;\n\
               use crate::{cli::Context, domain::{Email, UserSub}, self};\n\
               fn f() { let _ = crate :: store::connect; }\n\
               pub(crate) fn g() {}\n\
               use crate::{\n    directory::Identity,\n    tui,\n};\n";
    let found: Vec<(usize, String)> = crate_paths(src)
        .into_iter()
        .map(|p| (p.line, p.module))
        .collect();
    assert_eq!(
        found,
        [
            (1, "service"),
            (2, "cli"),
            (2, "domain"),
            (3, "store"),
            (6, "directory"),
            (7, "tui"),
        ]
        .map(|(l, m)| (l, m.to_string()))
    );
}

#[test]
fn scanner_ignores_comments_strings_and_chars() {
    let src = "//! Called from [`crate::cli`].\n\
               /* crate::store /* nested crate::cli */ still crate::tui */\n\
               const A: &str = \"crate::store\";\n\
               const B: &str = r#\"crate::cli \" crate::tui\"#;\n\
               const C: char = '\"'; use crate::domain::Email; // crate::app\n\
               fn h<'a>(x: &'a str) -> &'a str { x } const D: u8 = b'\\''; use crate::config;\n\
               const E: char = '\\''; const F: &str = \"'\"; use crate::files; // '\n";
    let modules: Vec<String> = crate_paths(src).into_iter().map(|p| p.module).collect();
    assert_eq!(modules, ["domain", "config", "files"]);
}

/// The rules catch a violation: a fake tree with one wrong arrow per rule fails, and naming
/// the same modules in comments does not.
#[test]
fn the_rules_catch_a_violation_in_a_fake_tree() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("tui/mod.rs", "use crate::cli::Context;\n");
    write(
        "tui/screens/users.rs",
        "use crate::{service::Services, store};\n",
    );
    write("cli/audit.rs", "use crate::store::audit::TimeRange;\n");
    write("directory/sync.rs", "use crate::service::ServiceError;\n");
    write(
        "store/directory_cache.rs",
        "use crate::directory::Identity;\n",
    );
    write("domain/x.rs", "fn f() -> crate::app::Launch { todo!() }\n");
    write(
        "service/ok.rs",
        "//! not crate::cli\nuse crate::{store, directory};\n",
    );
    write("app.rs", "use crate::tui;\n");
    let broken = violations(src, RULES);
    let expect = [
        "src/cli/audit.rs:1: crate::store",
        "src/directory/sync.rs:1: crate::service",
        "src/domain/x.rs:1: crate::app",
        "src/store/directory_cache.rs:1: crate::directory",
        "src/tui/mod.rs:1: crate::cli",
        "src/tui/screens/users.rs:1: crate::store",
    ];
    assert_eq!(broken.len(), expect.len(), "{broken:#?}");
    for (got, want) in broken.iter().zip(expect) {
        assert!(got.starts_with(want), "{got} should start with {want}");
    }
}

// ---------- no import cycle inside the console ----------

/// The console's top-level module a file belongs to (`app`, `screens`, `msg`, …; None for
/// `tui/mod.rs`, the root that wires them together), and the module path of the file inside
/// `tui` (`["app", "keys"]`, `["screens", "mandates"]` for its `mod.rs`).
fn tui_module(rel: &str) -> (Option<String>, Vec<String>) {
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    let file = parts.pop().unwrap_or_default();
    if file != "mod.rs" {
        parts.push(file.trim_end_matches(".rs").to_string());
    }
    (parts.first().cloned(), parts)
}

/// The other top-level console modules a file (at module path `at`) names: `crate::tui::x`,
/// grouped `crate::tui::{x, y}`, and `super::…` chains that climb to the console's root.
fn tui_imports(text: &str, at: &[String]) -> Vec<String> {
    let code = code_only(text);
    let mut out = Vec::new();
    let idents = |s: &str| -> Vec<String> {
        let s = s.trim_start();
        if let Some(group) = s.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end]
                .split(',')
                .filter_map(|p| {
                    let id: String = p
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    (!id.is_empty()).then_some(id)
                })
                .collect()
        } else {
            let id: String = s
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if id.is_empty() { Vec::new() } else { vec![id] }
        }
    };
    let squashed: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    let squashed = squashed.replace(" ::", "::").replace(":: ", "::");
    for (i, _) in squashed.match_indices("crate::tui::") {
        out.extend(idents(&squashed[i + "crate::tui::".len()..]));
    }
    let bytes = squashed.as_bytes();
    let mut i = 0;
    while let Some(pos) = squashed[i..].find("super::") {
        let start = i + pos;
        // Only the start of a chain (not the second `super` of `super::super`).
        let preceded = start >= 2 && &squashed[start - 2..start] == "::";
        let word_start =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut n = 0;
        let mut j = start;
        while squashed[j..].starts_with("super::") {
            n += 1;
            j += "super::".len();
        }
        i = j;
        if preceded || !word_start || n > at.len() {
            continue;
        }
        let base = &at[..at.len() - n];
        if base.is_empty() {
            out.extend(idents(&squashed[j..]));
        }
    }
    out
}

/// Every edge `from → to` between top-level console modules, with a file that makes it.
fn tui_edges(tui: &Path) -> std::collections::BTreeMap<(String, String), String> {
    let mut edges = std::collections::BTreeMap::new();
    for file in rust_files(tui) {
        let rel = file
            .strip_prefix(tui)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let (Some(from), at) = tui_module(&rel) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for to in tui_imports(&text, &at) {
            let a_module = tui.join(&to).is_dir() || tui.join(format!("{to}.rs")).exists();
            if to != from && a_module {
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| format!("src/tui/{rel}"));
            }
        }
    }
    edges
}

/// A cycle among the console's top-level modules, as `a → b → … → a` with the files.
fn tui_cycle(tui: &Path) -> Option<String> {
    let edges = tui_edges(tui);
    let nodes: std::collections::BTreeSet<&String> =
        edges.keys().flat_map(|(a, b)| [a, b]).collect();
    // Depth-first search with the path on the stack.
    fn visit<'a>(
        n: &'a String,
        edges: &'a std::collections::BTreeMap<(String, String), String>,
        path: &mut Vec<&'a String>,
        done: &mut std::collections::BTreeSet<&'a String>,
    ) -> Option<String> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut cycle: Vec<&String> = path[i..].to_vec();
            cycle.push(n);
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let file = &edges[&(w[0].clone(), w[1].clone())];
                    format!("{} → {} ({file})", w[0], w[1])
                })
                .collect();
            return Some(steps.join(", "));
        }
        if done.contains(n) {
            return None;
        }
        path.push(n);
        for ((a, b), _) in edges.range((n.clone(), String::new())..) {
            if a != n {
                break;
            }
            if let Some(c) = visit(b, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n);
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for n in nodes {
        if let Some(c) = visit(n, &edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

/// The console's modules import one way (action and the widgets at the bottom, the screens
/// above them, the loop's messages above the screens, the router on top): no cycle.
#[test]
fn no_import_cycle_inside_src_tui() {
    let tui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui");
    let edges = tui_edges(&tui);
    // The scanner sees the arrows that are allowed, so an empty result is not a blind one.
    for (from, to) in [
        ("screens", "widgets"),
        ("app", "screens"),
        ("msg", "screens"),
        ("widgets", "action"),
        ("app", "msg"),
    ] {
        assert!(
            edges.contains_key(&(from.to_string(), to.to_string())),
            "the scanner missed {from} → {to}: {edges:#?}"
        );
    }
    assert_eq!(tui_cycle(&tui), None, "an import cycle inside src/tui");
}

/// The cycle check catches a cycle made through `crate::tui::…` and through `super::…`, and
/// not one written in a comment.
#[test]
fn the_cycle_check_catches_a_cycle_in_a_fake_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tui = dir.path();
    let write = |rel: &str, text: &str| {
        let p = tui.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "mod.rs",
        "pub mod action;\npub mod app;\npub mod widgets;\n",
    );
    write(
        "action.rs",
        "// crate::tui::app::App\nuse super::widgets::X;\n",
    );
    write("widgets/mod.rs", "use crate::tui::{theme, action};\n");
    write("app/mod.rs", "use crate::tui::action::Msg;\n");
    assert_eq!(
        tui_cycle(tui).as_deref(),
        Some("action → widgets (src/tui/action.rs), widgets → action (src/tui/widgets/mod.rs)")
    );
    write("action.rs", "// crate::tui::app::App\n");
    assert_eq!(tui_cycle(tui), None);
    write("app/keys.rs", "use super::super::widgets::Y;\n");
    write(
        "widgets/table.rs",
        "fn f() -> crate :: tui :: app :: App { todo!() }\n",
    );
    assert!(
        tui_cycle(tui).is_some_and(|c| c.contains("app → widgets") && c.contains("widgets → app")),
        "{:?}",
        tui_cycle(tui)
    );
}
