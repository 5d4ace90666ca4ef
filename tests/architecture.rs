//! The layer order of the crate, in code: every import between top-level modules of `src/`
//! points down this list, so there is no cycle and a newcomer can read the house from the
//! bottom up. `docs/ARCHITECTURE.md` shows the same table (a test below keeps the two equal).
//!
//! A module may use the modules of the layers below its own and, inside its own layer, the
//! ones listed before it. Test code (`#[cfg(test)]` items and the files they name) is exempt:
//! a test may build its fixtures with anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom first. Keep in step with the table in docs/ARCHITECTURE.md.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundations",
        &[
            "lang", "finding", "xml", "identity", "calendar", "config", "budget", "faults",
        ],
    ),
    (
        "transport identity and signatures",
        &["pki", "tls", "xmldsig"],
    ),
    ("codecs", &["document", "message"]),
    ("rules", &["rules"]),
    ("pipeline and store", &["pipeline", "archive", "cases"]),
    (
        "services",
        &[
            "deployment",
            "training",
            "onboarding",
            "ledger",
            "server",
            "web",
        ],
    ),
    ("runs and reports", &["client", "testcase", "report"]),
    ("boot", &["app"]),
    ("command line", &["cli"]),
];

/// The module's position in the order, and its layer.
fn rank(module: &str) -> Option<(usize, usize)> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(layer, (_, ms))| ms.iter().map(move |m| (layer, *m)))
        .enumerate()
        .find(|(_, (_, m))| *m == module)
        .map(|(pos, (layer, _))| (pos, layer))
}

/// One import between two top-level modules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    file: String,
    line: usize,
}

/// Blanks comments and the contents of string and char literals (keeping line breaks), so
/// that `crate::x` in a doc comment or a message does not count as an import.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |c: u8| if c == b'\n' { b'\n' } else { b' ' };
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        out.push(blank(b[i]));
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                // Raw string: r"…", r#"…"#.
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push(b[i]);
                    i += 1;
                    continue;
                }
                out.extend(std::iter::repeat_n(b' ', j + 1 - i));
                i = j + 1;
                loop {
                    if i >= b.len() {
                        break;
                    }
                    if b[i] == b'"' && b[i + 1..].iter().take(hashes).all(|&c| c == b'#') {
                        out.extend(std::iter::repeat_n(b' ', 1 + hashes));
                        i += 1 + hashes;
                        break;
                    }
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            b'"' => {
                out.push(b' ');
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        out.push(b' ');
                        i += 1;
                    }
                    if i < b.len() {
                        out.push(blank(b[i]));
                        i += 1;
                    }
                }
                out.push(b' ');
                i += 1;
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): a lifetime has no
                // closing quote right after its first character.
                let close = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    // Multi-byte UTF-8 char literal.
                    let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(i + 1 + ch_len)
                };
                match close {
                    Some(end) => {
                        out.extend(std::iter::repeat_n(b' ', end + 1 - i));
                        i = end + 1;
                    }
                    None => {
                        out.push(b'\'');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes `#[cfg(test)]` items; returns the text left and the names of out-of-line test
/// modules (`#[cfg(test)] mod tests;`).
fn without_tests(code: &str) -> (String, Vec<String>) {
    let mut out = code.to_owned();
    let mut test_files = Vec::new();
    let marker = "#[cfg(test)]";
    let mut from = 0;
    while let Some(p) = out[from..].find(marker).map(|p| p + from) {
        let rest = &out[p + marker.len()..];
        let item_start = p + marker.len() + (rest.len() - rest.trim_start().len());
        // The item ends at its first `;` (outside braces) or at the brace closing its body.
        let bytes = out.as_bytes();
        let mut depth = 0usize;
        let mut end = bytes.len();
        for (k, &c) in bytes.iter().enumerate().skip(item_start) {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        let item = out[item_start..end].to_owned();
        let words: Vec<&str> = item.split_whitespace().collect();
        if let ["mod", name] | ["pub", "mod", name] | ["pub(crate)", "mod", name] = words.as_slice()
            && let Some(name) = name.strip_suffix(';')
        {
            test_files.push(name.to_owned());
        }
        let blanked: String = out[p..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(p..end, &blanked);
        from = p + blanked.len();
    }
    (out, test_files)
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Top-level modules named by `crate::…` (and `kanta_sim::…` in the binary), including
/// every branch of a `crate::{a, b::c}` group, and by `super::` chains that climb to the
/// crate root, with their line numbers.
fn imports(code: &str, depth: usize, crate_names: &[&str]) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let mut roots: Vec<usize> = Vec::new();
    for name in crate_names {
        let pat = format!("{name}::");
        let mut from = 0;
        while let Some(p) = code[from..].find(&pat).map(|p| p + from) {
            from = p + pat.len();
            if p > 0 && code[..p].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            roots.push(from);
        }
    }
    // `super::super::x` from a file `depth` modules below the root names `x` at the root.
    if depth > 0 {
        let pat = "super::".repeat(depth);
        let mut from = 0;
        while let Some(p) = code[from..].find(&pat).map(|p| p + from) {
            from = p + pat.len();
            if p > 0 && code[..p].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            if code[from..].starts_with("super::") {
                continue;
            }
            roots.push(from);
        }
    }
    for start in roots {
        let rest = code[start..].trim_start();
        let at = start + (code[start..].len() - rest.len());
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group's top level on commas.
            let mut depth = 0usize;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        item.push(c);
                    }
                    '}' if depth == 0 => break,
                    '}' => {
                        depth -= 1;
                        item.push(c);
                    }
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    _ => item.push(c),
                }
            }
            items.push(item);
            for it in items {
                let name: String = it.trim().chars().take_while(|&c| is_ident(c)).collect();
                if !name.is_empty() && name != "self" {
                    found.push((name, line_of(at)));
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                found.push((name, line_of(at)));
            }
        }
    }
    found
}

/// A source tree: relative path under `src/` → text.
type Tree = BTreeMap<PathBuf, String>;

fn read_tree(root: &Path) -> Tree {
    fn walk(dir: &Path, root: &Path, out: &mut Tree) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut t = Tree::new();
    walk(root, root, &mut t);
    t
}

/// The top-level module of a file and how many modules deep the file's module is.
fn module_of(rel: &Path) -> (String, usize) {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let top = parts[0].trim_end_matches(".rs").to_owned();
    let last = parts.last().map(String::as_str).unwrap_or("");
    let depth = if last == "mod.rs" {
        parts.len() - 1
    } else {
        parts.len()
    };
    (top, depth)
}

/// Every import between two different top-level modules, test code left out.
fn edges(tree: &Tree) -> Vec<Edge> {
    // Files that only hold tests: named by `#[cfg(test)] mod x;` in their parent.
    let mut test_only: BTreeSet<PathBuf> = BTreeSet::new();
    let mut stripped: BTreeMap<&PathBuf, String> = BTreeMap::new();
    for (rel, text) in tree {
        let (code, tests) = without_tests(&code_only(text));
        let dir = if rel
            .file_name()
            .is_some_and(|f| f == "mod.rs" || f == "lib.rs")
        {
            rel.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            rel.with_extension("")
        };
        for t in tests {
            test_only.insert(dir.join(format!("{t}.rs")));
            test_only.insert(dir.join(&t).join("mod.rs"));
        }
        stripped.insert(rel, code);
    }
    let mut out = Vec::new();
    for (rel, code) in stripped {
        if test_only.contains(rel) {
            continue;
        }
        let (from, depth) = module_of(rel);
        if from == "lib" {
            continue;
        }
        let (names, depth): (&[&str], usize) = if from == "main" {
            (&["kanta_sim", "crate"], 0)
        } else {
            (&["crate"], depth)
        };
        for (to, line) in imports(&code, depth, names) {
            let from = if from == "main" {
                "cli".to_owned()
            } else {
                from.clone()
            };
            if to != from && tree_has_module(tree, &to) {
                out.push(Edge {
                    from,
                    to,
                    file: rel.display().to_string(),
                    line,
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn tree_has_module(tree: &Tree, name: &str) -> bool {
    tree.contains_key(Path::new(&format!("{name}.rs")))
        || tree.contains_key(&Path::new(name).join("mod.rs"))
}

/// Imports that point up the order (or name a module the order does not know).
fn violations(edges: &[Edge]) -> Vec<String> {
    let mut out = Vec::new();
    for e in edges {
        match (rank(&e.from), rank(&e.to)) {
            (Some((pf, lf)), Some((pt, lt))) if pt > pf => out.push(format!(
                "{}:{}: `{}` (layer {lf}) imports `{}` (layer {lt}), which is above it{}",
                e.file,
                e.line,
                e.from,
                e.to,
                if lf == lt {
                    " in the same layer's order"
                } else {
                    ""
                }
            )),
            (None, _) => out.push(format!(
                "{}: module `{}` is not in the layer order (tests/architecture.rs LAYERS)",
                e.file, e.from
            )),
            (_, None) => out.push(format!(
                "{}:{}: module `{}` is not in the layer order (tests/architecture.rs LAYERS)",
                e.file, e.line, e.to
            )),
            _ => {}
        }
    }
    out
}

/// Cycles between top-level modules (each as a list of modules), whatever the order says.
fn cycles(edges: &[Edge]) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().insert(&e.to);
    }
    // A cycle exists through `a` when `a` reaches itself; report each once by its smallest
    // member.
    let mut out: Vec<Vec<String>> = Vec::new();
    for &start in graph.keys() {
        let mut stack = vec![(start, vec![start])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for &next in graph.get(node).into_iter().flatten() {
                if next == start {
                    if path.iter().all(|m| *m >= start) {
                        out.push(path.iter().map(|s| (*s).to_owned()).collect());
                    }
                } else if seen.insert(next) {
                    let mut p = path.clone();
                    p.push(next);
                    stack.push((next, p));
                }
            }
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_import_points_down_the_layers() {
    let tree = read_tree(&src());
    let edges = edges(&tree);
    assert!(
        edges.len() > 50,
        "the scan found only {} imports",
        edges.len()
    );
    let v = violations(&edges);
    assert!(
        v.is_empty(),
        "imports against the layer order:\n{}",
        v.join("\n")
    );
    let c = cycles(&edges);
    assert!(c.is_empty(), "import cycles: {c:?}");
}

#[test]
fn every_module_has_a_place_in_the_order() {
    let tree = read_tree(&src());
    let mut tops: BTreeSet<String> = tree.keys().map(|p| module_of(p).0).collect();
    tops.remove("lib");
    tops.remove("main");
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|(_, ms)| ms.iter().map(|m| (*m).to_owned()))
        .collect();
    assert_eq!(tops, listed, "src/ and LAYERS name different modules");
}

#[test]
fn a_deliberately_inverted_import_fails() {
    // The real tree with one import pointing up (a foundation using the server) and one
    // closing a cycle (the store using the boot part that uses it).
    let mut tree = read_tree(&src());
    let xml = tree.get_mut(Path::new("xml/mod.rs")).unwrap();
    xml.push_str("\nfn _inverted() -> Option<crate::server::ServerHandle> { None }\n");
    let v = violations(&edges(&tree));
    assert!(
        v.iter()
            .any(|m| m.contains("xml/mod.rs") && m.contains("`xml` (layer 0) imports `server`")),
        "{v:?}"
    );

    let mut tree = read_tree(&src());
    let archive = tree.get_mut(Path::new("archive/mod.rs")).unwrap();
    archive.push_str("\nuse crate::{app::{self}, xml};\n");
    let e = edges(&tree);
    assert!(violations(&e).iter().any(|m| m.contains("imports `app`")));
    assert!(!cycles(&e).is_empty(), "archive → app → archive is a cycle");
}

#[test]
fn comments_strings_and_test_code_do_not_count() {
    let code = r##"
//! Uses `crate::server` in prose only.
/// See crate::web::View.
fn f() { let _ = "crate::cli::run"; let _ = r#"crate::app"#; let _c = '"'; }
#[cfg(test)]
mod tests {
    use crate::testcase::Engine;
}
#[cfg(test)]
mod more;
fn g<'a>(x: &'a str) -> &'a str { crate::xml::trim(x) }
use super::super::identity::Hetu;
"##;
    let (stripped, tests) = without_tests(&code_only(code));
    assert_eq!(tests, ["more"]);
    let found: Vec<String> = imports(&stripped, 2, &["crate"])
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(found, ["xml", "identity"]);
}

#[test]
fn the_architecture_document_shows_the_same_layers() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .unwrap();
    for (n, (name, modules)) in LAYERS.iter().enumerate() {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| {n} |")))
            .unwrap_or_else(|| panic!("docs/ARCHITECTURE.md has no row `| {n} |` ({name})"));
        let named: Vec<&str> = row
            .split('|')
            .nth(2)
            .unwrap_or("")
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        assert_eq!(
            named, *modules,
            "layer {n} ({name}) in docs/ARCHITECTURE.md"
        );
    }
}
