//! The crate's shape (issue 17): no cycles between its modules, and no source file over 800
//! lines without its trailing `#[cfg(test)]` module.
//!
//! A module is one source file (`lib.rs` is `crate`, `a/mod.rs` is `crate::a`, `a/b.rs` is
//! `crate::a::b`); inline modules belong to their file. An edge is any path in the file's
//! non-test code that names another module: `crate::…`, `super::…`, `self::…`, or a child
//! module the file declares (`mod x;` then `x::…`), in `use` trees and in expressions alike.
//! A path names the deepest module it reaches (`crate::cases::view::CaseView` names
//! `crate::cases::view`). `mod` declarations themselves are not edges: a parent may declare
//! the child that imports it.
//!
//! The checker is local to this test for now; a shared one is planned in the platform kit
//! (`kreki_platform::structure::check_module_structure(src_dir, max_lines)`), and this test
//! should call it once it exists.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Check `src_dir`; `Err` lists every cycle and every file over `max_lines`.
pub fn check_module_structure(src_dir: &Path, max_lines: usize) -> Result<(), String> {
    let mut files = Vec::new();
    collect(src_dir, &mut files);
    files.sort();
    let mut modules: BTreeMap<String, String> = BTreeMap::new(); // module path → file text
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let rel = f.strip_prefix(src_dir).unwrap_or(f);
        let lines = lines_without_trailing_tests(&text);
        if lines > max_lines {
            problems.push(format!(
                "{} has {lines} lines without its test module (at most {max_lines})",
                rel.display()
            ));
        }
        modules.insert(module_of(rel), text);
    }
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, text) in &modules {
        let edges = edges_of(m, text, &known);
        graph.insert(m.clone(), edges);
    }
    for (cycle, members) in cycles(&graph) {
        problems.push(format!(
            "module cycle: {} (modules in cycles with each other: {})",
            cycle.join(" -> "),
            members.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") || !parts.is_empty() && stem != "mod" {
        parts.push(stem.to_string());
    }
    let mut m = String::from("crate");
    for p in parts {
        m.push_str("::");
        m.push_str(&p);
    }
    m
}

/// The text with comments, string and char literals blanked (newlines kept), so that
/// offsets and line numbers stay those of the file.
fn code_only(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in out.iter_mut().take(to).skip(from) {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let (mut depth, mut j) = (1, i + 2);
                while j < b.len() && depth > 0 {
                    if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                        depth += 1;
                        j += 2;
                    } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                blank(&mut out, i, j);
                i = j;
            }
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && (i == 0 || !is_ident(b[i - 1])) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let mut close = String::from("\"");
                close.push_str(&"#".repeat(hashes));
                let start = i + 2 + hashes;
                let end = text[start..]
                    .find(&close)
                    .map_or(b.len(), |p| start + p + close.len());
                blank(&mut out, i, end);
                i = end;
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i, j + 1);
                i = j + 1;
            }
            b'\'' => {
                // A char literal ('a', '\n', '\u{..}'), or a lifetime ('a) left alone.
                if b.get(i + 1) == Some(&b'\\') {
                    let end = b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map_or(b.len(), |p| i + 2 + p + 1);
                    blank(&mut out, i, end);
                    i = end;
                } else if let Some(len) = text[i + 1..].chars().next().map(char::len_utf8)
                    && b.get(i + 1 + len) == Some(&b'\'')
                {
                    blank(&mut out, i, i + 2 + len);
                    i += 2 + len;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Where a trailing `#[cfg(test)] mod … { … }` starts (a byte offset), if the file ends
/// with one.
fn trailing_tests(code: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(code);
    let mut from = 0;
    let mut found = None;
    while let Some(p) = text[from..].find("#[cfg(test)]") {
        let at = from + p;
        from = at + 1;
        let rest = text[at + "#[cfg(test)]".len()..].trim_start();
        let rest = rest.strip_prefix("pub ").unwrap_or(rest);
        if !rest.starts_with("mod ") {
            continue;
        }
        let Some(open) = text[at..].find('{').map(|o| at + o) else {
            continue;
        };
        let mut depth = 0;
        let mut close = None;
        for (k, c) in code.iter().enumerate().skip(open) {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(c) = close
            && code[c + 1..].iter().all(u8::is_ascii_whitespace)
        {
            found = Some(at);
        }
    }
    found
}

fn lines_without_trailing_tests(text: &str) -> usize {
    let code = code_only(text);
    match trailing_tests(&code) {
        Some(at) => text[..at].lines().count(),
        None => text.lines().count(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Hash,
    Other(u8),
}

fn tokens(code: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if is_ident(c) {
            let start = i;
            while i < code.len() && is_ident(code[i]) {
                i += 1;
            }
            let word = String::from_utf8_lossy(&code[start..i]).into_owned();
            // `r#ident` raw identifiers.
            out.push(Tok::Ident(word));
            continue;
        }
        match c {
            b':' if code.get(i + 1) == Some(&b':') => {
                out.push(Tok::Path);
                i += 2;
                continue;
            }
            b'{' => out.push(Tok::Open),
            b'}' => out.push(Tok::Close),
            b',' => out.push(Tok::Comma),
            b';' => out.push(Tok::Semi),
            b'*' => out.push(Tok::Star),
            b'#' => out.push(Tok::Hash),
            c if c.is_ascii_whitespace() => {}
            c => out.push(Tok::Other(c)),
        }
        i += 1;
    }
    out
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

/// Expand a `use` tree starting at `toks[*i]` into full paths (segments).
fn use_tree(toks: &[Tok], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*i) {
            Some(Tok::Ident(s)) if s == "as" => {
                *i += 2; // `as name`
                out.push(path);
                return;
            }
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                *i += 1;
            }
            Some(Tok::Path) => *i += 1,
            Some(Tok::Star) => {
                *i += 1;
                out.push(path);
                return;
            }
            Some(Tok::Open) => {
                *i += 1;
                loop {
                    match toks.get(*i) {
                        Some(Tok::Close) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Comma) => *i += 1,
                        None => return,
                        _ => use_tree(toks, i, &path, out),
                    }
                }
            }
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

/// The modules a file's non-test code names.
fn edges_of(module: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut code = code_only(text);
    if let Some(at) = trailing_tests(&code) {
        code.truncate(at);
    }
    let toks = tokens(&code);
    // Children declared by this file (`mod x;`), for paths relative to it.
    let mut children = BTreeSet::new();
    for w in toks.windows(3) {
        if let (Tok::Ident(m), Tok::Ident(name), Tok::Semi) = (&w[0], &w[1], &w[2])
            && m == "mod"
        {
            children.insert(name.clone());
        }
    }
    let base: Vec<String> = module.split("::").map(str::to_string).collect();
    let mut paths: Vec<(Vec<String>, Vec<String>)> = Vec::new(); // (current module, path)
    // Inline modules: (name, brace depth at which they opened).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let current = || {
            let mut c = base.clone();
            c.extend(inline.iter().map(|(n, _)| n.clone()));
            c
        };
        match &toks[i] {
            // `#[cfg(test)]` items: skip the attribute and the item's block or `;`.
            Tok::Hash
                if matches!(toks.get(i + 1), Some(Tok::Other(b'[')))
                    && ident(toks.get(i + 2)) == Some("cfg")
                    && ident(toks.get(i + 4)) == Some("test") =>
            {
                let mut j = i + 5;
                while j < toks.len() && !matches!(toks[j], Tok::Open | Tok::Semi) {
                    j += 1;
                }
                if matches!(toks.get(j), Some(Tok::Open)) {
                    let mut d = 0;
                    while j < toks.len() {
                        match toks[j] {
                            Tok::Open => d += 1,
                            Tok::Close => {
                                d -= 1;
                                if d == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                }
                i = j + 1;
                continue;
            }
            Tok::Ident(m)
                if m == "mod"
                    && ident(toks.get(i + 1)).is_some()
                    && matches!(toks.get(i + 2), Some(Tok::Open)) =>
            {
                inline.push((ident(toks.get(i + 1)).unwrap_or("").to_string(), depth));
                depth += 1;
                i += 3;
                continue;
            }
            Tok::Ident(u) if u == "use" => {
                let mut j = i + 1;
                let mut trees = Vec::new();
                use_tree(&toks, &mut j, &[], &mut trees);
                let cur = current();
                for t in trees {
                    paths.push((cur.clone(), t));
                }
                i = j;
                continue;
            }
            Tok::Ident(first)
                if matches!(toks.get(i + 1), Some(Tok::Path))
                    && (i == 0 || !matches!(toks[i - 1], Tok::Path)) =>
            {
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while matches!(toks.get(j), Some(Tok::Path))
                    && let Some(s) = ident(toks.get(j + 1))
                {
                    path.push(s.to_string());
                    j += 2;
                }
                paths.push((current(), path));
                i = j;
                continue;
            }
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut edges = BTreeSet::new();
    for (cur, path) in paths {
        let Some(abs) = absolute(&cur, &path, &children, cur.len() == base.len()) else {
            continue;
        };
        // The deepest known module the path reaches.
        let mut target = None;
        for n in (1..=abs.len()).rev() {
            let m = abs[..n].join("::");
            if known.contains(&m) {
                target = Some(m);
                break;
            }
        }
        if let Some(t) = target
            && t != module
        {
            edges.insert(t);
        }
    }
    edges
}

/// `path` as seen from module `cur`, made absolute (`crate::…`); `None` for paths into other
/// crates.
fn absolute(
    cur: &[String],
    path: &[String],
    children: &BTreeSet<String>,
    at_file_level: bool,
) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut abs: Vec<String>;
    let mut rest = &path[1..];
    match first.as_str() {
        "crate" => abs = vec!["crate".into()],
        "self" => abs = cur.to_vec(),
        "super" => {
            abs = cur[..cur.len().saturating_sub(1)].to_vec();
            while rest.first().is_some_and(|s| s == "super") {
                abs.pop();
                rest = &rest[1..];
            }
        }
        name if at_file_level && children.contains(name) => {
            abs = cur.to_vec();
            rest = path;
        }
        _ => return None,
    }
    abs.extend(rest.iter().cloned());
    Some(abs)
}

/// Every strongly connected set of two or more modules: one cycle through it, and its
/// members.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<(Vec<String>, Vec<String>)> {
    // Tarjan's algorithm, iterative enough for a crate's few dozen modules.
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        sccs: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(out) = s.graph.get(v) {
            for w in out {
                let w = w.as_str();
                if !s.graph.contains_key(w) {
                    continue;
                }
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(lw));
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(iw));
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                s.sccs.push(scc);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        sccs: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    // One concrete cycle per component: a shortest path back to its first module.
    s.sccs
        .iter()
        .map(|scc| {
            let members: BTreeSet<&str> = scc.iter().copied().collect();
            let start = *members.iter().next().unwrap_or(&"");
            let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut end = None;
            while let Some(v) = queue.pop_front() {
                for w in graph.get(v).into_iter().flatten() {
                    let w = w.as_str();
                    if !members.contains(w) {
                        continue;
                    }
                    if w == start {
                        end = Some(v);
                        queue.clear();
                        break;
                    }
                    if !prev.contains_key(w) {
                        prev.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            let mut path = vec![start.to_string()];
            let mut v = end.unwrap_or(start);
            let mut back = Vec::new();
            while v != start {
                back.push(v.to_string());
                v = prev.get(v).copied().unwrap_or(start);
            }
            back.reverse();
            path.extend(back);
            path.push(start.to_string());
            (path, members.iter().map(|m| m.to_string()).collect())
        })
        .collect()
}

#[test]
fn no_module_cycles_and_no_file_over_800_lines() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    if let Err(problems) = check_module_structure(&src, 800) {
        panic!("the crate's module structure has problems:\n{problems}");
    }
}

#[test]
fn the_checker_finds_cycles_and_long_files() {
    let dir = std::env::temp_dir().join(format!("kreki-structure-{}", uuid_like()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(
        dir.join("a/mod.rs"),
        "//! crate::c in a comment is no edge\npub mod inner;\nuse crate::b::Thing;\n",
    )
    .unwrap();
    std::fs::write(dir.join("a/inner.rs"), "use super::super::c;\n").unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "use crate::{c::X, d as _};\nconst S: &str = \"crate::a\";\n",
    )
    .unwrap();
    let long = format!(
        "pub fn f() {{ crate::a::g(); }}\n{}#[cfg(test)]\nmod tests {{\n    use crate::b;\n{}}}\n",
        "\n".repeat(8),
        "\n".repeat(50)
    );
    std::fs::write(dir.join("c.rs"), long).unwrap();
    let err = check_module_structure(&dir, 9).unwrap_err();
    assert!(
        err.contains("module cycle: crate::a -> crate::b -> crate::c -> crate::a"),
        "{err}"
    );
    assert!(!err.contains("c.rs has"), "test module not counted: {err}");
    let err = check_module_structure(&dir, 8).unwrap_err();
    assert!(err.contains("c.rs has 9 lines"), "{err}");
    // Break the cycle: `c` no longer calls into `a`.
    std::fs::write(dir.join("c.rs"), "pub fn f() {}\n").unwrap();
    check_module_structure(&dir, 9).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}
