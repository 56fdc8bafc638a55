//! The crate's shape (issue 17): no source file in `src/` longer than 800 lines not counting
//! its `#[cfg(test)]` module, and no cycle between its modules (file-level: `a` uses `b` when
//! `a` names an item of `b` through `crate::`, `super::`, a `use` or a child module's name).
//!
//! The checker is local to this test for now; a shared one
//! (`kreki_platform::structure::check_module_structure(src_dir, max_lines)`) is meant to
//! replace it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

#[test]
fn no_module_cycle_and_no_long_file() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = check_module_structure(&src, 800);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checker finds what it must: a cycle and a long file in a small made-up crate.
#[test]
fn the_checker_finds_cycles_and_long_files() {
    let dir = kreki_platform::testkit::TempDir::new();
    let src = dir.path();
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(
        src.join("a/mod.rs"),
        "mod inner;\npub fn f() { inner::g() }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a/inner.rs"),
        "use crate::b::h;\npub fn g() { h() }\n",
    )
    .unwrap();
    let long = "pub fn h() { crate::a::f() }\n".to_string() + &"// x\n".repeat(900);
    std::fs::write(src.join("b.rs"), long + "#[cfg(test)]\nmod tests {}\n").unwrap();
    let problems = check_module_structure(src, 800);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("cycle") && p.contains("a::inner")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("b.rs") && p.contains("901")),
        "{problems:?}"
    );
    // Without the back edge and with a shorter file, nothing to report.
    std::fs::write(src.join("b.rs"), "pub fn h() {}\n").unwrap();
    assert!(check_module_structure(src, 800).is_empty());
}

/// Problems of the crate under `src`: files over `max_lines` lines before their
/// `#[cfg(test)]` module, and cycles between modules.
fn check_module_structure(src: &Path, max_lines: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let mut files = BTreeMap::new();
    collect(src, src, &mut files);
    for (module, (path, text)) in &files {
        let n = text.lines().count();
        if n > max_lines {
            problems.push(format!(
                "{} ({module}) has {n} lines without its tests (at most {max_lines})",
                path.display()
            ));
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, (_, text)) in &files {
        let deps = dependencies(module, text, &modules);
        edges.insert(
            module.clone(),
            deps.into_iter().filter(|d| d != module).collect(),
        );
    }
    for cycle in cycles(&edges) {
        problems.push(format!("module cycle: {}", cycle.join(" -> ")));
    }
    problems
}

/// Every `.rs` file under `dir` by module path (`crate`, `login`, `login::codes`), with its
/// text up to its `#[cfg(test)]` module.
fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, (PathBuf, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(root, &p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts
                .last()
                .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
            {
                parts.pop();
            }
            let module = if parts.is_empty() {
                "crate".to_string()
            } else {
                parts.join("::")
            };
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.insert(module, (p, code));
        }
    }
}

/// The modules `module` names (paths resolved to the longest known module).
fn dependencies(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("//") { "" } else { l }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let here: Vec<String> = if module == "crate" {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let mut paths: Vec<Vec<String>> = Vec::new();
    // `use` statements, with their brace groups expanded.
    let mut rest = code.as_str();
    while let Some(i) = find_word(rest, "use ") {
        let after = &rest[i + 4..];
        let Some(end) = after.find(';') else { break };
        expand(after[..end].trim(), &mut Vec::new(), &mut paths);
        rest = &after[end..];
    }
    // Paths in the code.
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = (i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':')
            && (bytes[i..].starts_with(b"crate::") || bytes[i..].starts_with(b"super::"));
        if starts {
            let mut j = i;
            while j < bytes.len() && (is_ident(bytes[j]) || bytes[j] == b':') {
                j += 1;
            }
            // `crate::{a, b}` is read with its `use` statement above.
            if !code[i..j].ends_with("::") {
                paths.push(code[i..j].split("::").map(str::to_string).collect());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    // Child modules named directly (`signin::login_form`).
    let children: Vec<String> = code
        .lines()
        .filter_map(|l| {
            let t = l.trim().trim_start_matches("pub ");
            let name = t.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect();
    for c in &children {
        if code.contains(&format!("{c}::")) {
            let mut p = vec!["self".to_string()];
            p.push(c.clone());
            paths.push(p);
        }
    }
    let mut deps = BTreeSet::new();
    for p in paths {
        let mut abs: Vec<String> = match p.first().map(String::as_str) {
            Some("crate") => p[1..].to_vec(),
            Some("super") => {
                let mut base = here.clone();
                let mut k = 0;
                while p.get(k).is_some_and(|s| s == "super") {
                    base.pop();
                    k += 1;
                }
                base.extend(p[k..].iter().cloned());
                base
            }
            Some("self") => {
                let mut base = here.clone();
                base.extend(p[1..].iter().cloned());
                base
            }
            _ => continue,
        };
        abs.retain(|s| !s.is_empty() && s != "*");
        // The longest prefix that is a module; else the crate root (an item of lib.rs).
        let mut found = "crate".to_string();
        for k in (1..=abs.len()).rev() {
            let m = abs[..k].join("::");
            if modules.contains(&m) {
                found = m;
                break;
            }
        }
        // A module's own descendants are not dependencies (`mod` declares them).
        if found == "crate" && module == "crate" {
            continue;
        }
        deps.insert(found);
    }
    deps
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn find_word(s: &str, w: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(w) {
        let at = from + i;
        if at == 0 || !is_ident(s.as_bytes()[at - 1]) {
            return Some(at);
        }
        from = at + w.len();
    }
    None
}

/// Expand `a::{b, c::{d, e}}` into full paths.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let n = prefix.len();
        prefix.extend(head);
        let mut depth = 0;
        let mut start = 0;
        for (i, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], prefix, out);
        prefix.truncate(n);
    } else if !tree.is_empty() {
        let name = tree.split(" as ").next().unwrap_or(tree);
        let mut p = prefix.clone();
        p.extend(name.split("::").map(|s| s.trim().to_string()));
        if p.last().is_some_and(|l| l == "self") {
            p.pop();
        }
        out.push(p);
    }
}

/// Every cycle found by a depth-first walk (one per back edge).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn walk(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for d in edges.get(n).into_iter().flatten() {
            match state.get(d.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == d).unwrap_or(0);
                    let mut c = stack[at..].to_vec();
                    c.push(d.clone());
                    found.push(c);
                }
                Some(_) => {}
                None => walk(d, edges, state, stack, found),
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    let mut found = Vec::new();
    for n in edges.keys() {
        if !state.contains_key(n) {
            walk(n, edges, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}
