//! The top-level modules of `agentcore-sdk/src` form no import cycle.
//!
//! Every `crate::` path outside comments, string literals and `#[cfg(test)]` items is an edge
//! from the top-level module of the file it is written in to the top-level module it names.
//! The test prints the edges and the layers they imply (each module uses only modules of lower
//! layers), and fails on a cycle, naming the modules in it and the files that close it.
//! `lib.rs` is the facade (modules and re-exports) and is not a module of its own.
//!
//! `cargo test -p agentcore-sdk --test layering -- --nocapture` shows the listing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layering the code is meant to have, ground first (docs/ARCHITECTURE.md describes it).
/// A module may use modules of earlier layers only.
const LAYERS: &[&[&str]] = &[
    &["types"],
    &["error"],
    &["config"],
    &["transport"],
    &["client"],
    &["control", "data"],
    // Siblings of control and data; it uses data only to keep the agent socket's old path.
    &["shell"],
    &["session"],
    // The helper script processes and files run in the session.
    &["helper"],
    // Sandbox-SDK capabilities built on sessions: processes, files, previews.
    &["process", "files", "preview"],
    &["workflow"],
];

#[test]
fn top_level_modules_form_no_cycle() {
    // LAYERING_SRC checks another tree (e.g. an older revision's `src`).
    let src = std::env::var_os("LAYERING_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let modules = top_level_modules(&src);
    // from → to → files that make the edge
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut root_paths = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap_or(&file).to_path_buf();
        let Some(from) = top_level_of(&rel) else {
            continue; // lib.rs: the facade
        };
        let text = std::fs::read_to_string(&file).expect("read source");
        let code = strip_tests(&strip_comments_and_literals(&text));
        for target in crate_paths(&code) {
            if !modules.contains(&target) {
                root_paths.push(format!("{}: crate::{target}", rel.display()));
                continue;
            }
            if target != from {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(target)
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    println!("crate:: edges between top-level modules:");
    for (from, tos) in &edges {
        for (to, files) in tos {
            let files: Vec<_> = files.iter().cloned().collect();
            println!("  {from} -> {to}   ({})", files.join(", "));
        }
    }
    let cycles = cycles(&modules, &edges);
    assert!(
        cycles.is_empty(),
        "the top-level modules form import cycles: {cycles:?}"
    );
    assert!(
        root_paths.is_empty(),
        "name items by their module, not by a crate-root re-export (the root is the facade): {root_paths:#?}"
    );
    let layers = layers(&modules, &edges);
    println!("layers, ground first:");
    for (i, layer) in layers.iter().enumerate() {
        println!("  {i}: {}", layer.join(", "));
    }

    // The intended order holds: every edge points to an earlier layer.
    let rank: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.iter().map(move |m| (*m, i)))
        .collect();
    for m in &modules {
        assert!(
            rank.contains_key(m.as_str()),
            "module {m} has no place in LAYERS"
        );
    }
    let mut upward = Vec::new();
    for (from, tos) in &edges {
        for (to, files) in tos {
            if rank[from.as_str()] <= rank[to.as_str()] {
                upward.push(format!("{from} -> {to} ({files:?})"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "edges that do not point down the intended layers: {upward:#?}"
    );
}

/// The top-level modules: `src/<name>.rs` and `src/<name>/`.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(src).expect("src dir").flatten() {
        let path = entry.path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if path.is_dir() || (path.extension().is_some_and(|e| e == "rs") && name != "lib") {
            out.insert(name);
        }
    }
    out
}

fn top_level_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (name != "lib").then_some(name)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
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

/// The code without comments (doc comments included), string, byte-string, raw-string and
/// char literals (each replaced by a space).
fn strip_comments_and_literals(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if (ch == 'r' || (ch == 'b' && at(i + 1) == 'r'))
            && !at(i.wrapping_sub(1)).is_alphanumeric()
            && {
                let mut j = i + if ch == 'b' { 2 } else { 1 };
                while at(j) == '#' {
                    j += 1;
                }
                at(j) == '"'
            }
        {
            let mut j = i + if ch == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1; // opening quote
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push(' ');
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}'), or a lifetime / label ('a).
            if at(i + 1) == '\\' {
                let mut j = i + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push(' ');
            } else if at(i + 2) == '\'' {
                i += 3;
                out.push(' ');
            } else {
                out.push(ch);
                i += 1;
            }
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

/// The code without `#[cfg(test)]` items (a module block, a `use`, a function).
fn strip_tests(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        // The item ends at the first `;` before any `{`, or at the `}` matching the first `{`.
        let brace = after.find('{');
        let semi = after.find(';');
        let end = match (brace, semi) {
            (Some(b), Some(sc)) if sc < b => sc + 1,
            (Some(b), _) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (k, ch) in after[b..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(sc)) => sc + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The first segment of every `crate::` path, with `use crate::{a::X, b}` groups expanded.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(pos) = code[from..].find("crate::") {
        let start = from + pos;
        from = start + "crate::".len();
        // `$crate::` and `pub(crate)` are not paths into this crate's modules.
        let before = start.checked_sub(1).map(|b| bytes[b] as char);
        if before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == '$') {
            continue;
        }
        let tail = code[from..].trim_start();
        if let Some(group) = tail.strip_prefix('{') {
            let mut depth = 1usize;
            let mut seg_start = true;
            let mut word = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        if seg_start && !word.is_empty() {
                            out.push(std::mem::take(&mut word));
                        }
                        seg_start = true;
                        word.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 1 && seg_start {
                    if ch.is_alphanumeric() || ch == '_' {
                        word.push(ch);
                    } else if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                        seg_start = false;
                    }
                }
            }
            if seg_start && !word.is_empty() {
                out.push(word);
            }
        } else {
            let name: String = tail
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Strongly connected components of more than one module (Tarjan's algorithm would do; the
/// graph has ten nodes, so reachability is enough).
fn cycles(modules: &BTreeSet<String>, edges: &Edges) -> Vec<Vec<String>> {
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(m) = stack.pop() {
            for to in edges.get(&m).into_iter().flat_map(|t| t.keys()) {
                if seen.insert(to.clone()) {
                    stack.push(to.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        modules.iter().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in modules {
        if done.contains(m) || !reachable[m].contains(m) {
            continue;
        }
        let scc: Vec<String> = modules
            .iter()
            .filter(|o| reachable[m].contains(*o) && reachable[*o].contains(m))
            .cloned()
            .collect();
        done.extend(scc.iter().cloned());
        out.push(scc);
    }
    out
}

/// Layers of an acyclic graph: a module's layer is one more than the highest it uses.
fn layers(modules: &BTreeSet<String>, edges: &Edges) -> Vec<Vec<String>> {
    fn depth(m: &str, edges: &Edges, memo: &mut BTreeMap<String, usize>) -> usize {
        if let Some(d) = memo.get(m) {
            return *d;
        }
        let d = edges
            .get(m)
            .into_iter()
            .flat_map(|t| t.keys())
            .map(|to| depth(to, edges, memo) + 1)
            .max()
            .unwrap_or(0);
        memo.insert(m.to_owned(), d);
        d
    }
    let mut memo = BTreeMap::new();
    let mut out: Vec<Vec<String>> = Vec::new();
    for m in modules {
        let d = depth(m, edges, &mut memo);
        if out.len() <= d {
            out.resize(d + 1, Vec::new());
        }
        out[d].push(m.clone());
    }
    out
}

#[test]
fn the_scanner_sees_what_the_compiler_sees() {
    let code = strip_tests(&strip_comments_and_literals(
        r###"
        use crate::a::X; // crate::b in a comment
        /// [`doc`](crate::c::D)
        /* crate::d */
        let s = "crate::e"; let r = r#"crate::f"#; let ch = '"'; let lt: &'static str = "";
        pub(crate) fn g() { crate::h::run() }
        use crate::{i::{J, K}, j, k::L};
        #[cfg(test)]
        mod tests { use crate::m; }
        #[cfg(test)]
        use crate::n;
        macro_rules! x { () => { $crate::o::P } }
        "###,
    ));
    assert_eq!(crate_paths(&code), ["a", "h", "i", "j", "k"]);
}
