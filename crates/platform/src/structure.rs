//! The structure check every service crate runs in its tests: no module cycles, no huge files.
//!
//! [`check_module_structure`] reads every `.rs` file under a crate's `src` directory and
//! reports, in one readable text:
//!
//! - **Module cycles.** Each file is a module: `lib.rs` and `main.rs` are the crate root,
//!   `foo/mod.rs` and `foo.rs` are `foo`, `foo/bar.rs` is `foo::bar`, and a `#[path = "…"]
//!   mod name;` declaration puts the file it names at `<declaring module>::name`. A file
//!   refers to the modules named by its `crate::…` paths (in `use` declarations, nested
//!   groups such as `use crate::{a, b::{c, d}}` included, and in expressions and types) and
//!   its `super::…` paths (resolved against the file's module). A path is cut to the longest
//!   prefix that is a module file of the crate (items and inline modules belong to the file
//!   that holds them). `self::…` and plain relative paths only reach a module's own
//!   descendants and are ignored.
//!
//!   **The rule.** For a reference from module `A` to module `B`, let `P` be their lowest
//!   common ancestor. If `A` or `B` is `P` itself (a module using its own descendant or its
//!   ancestor), there is no edge. Otherwise the edge goes between the two children of `P`
//!   that contain `A` and `B`: `store::quizzes` using `domain::course` is the edge
//!   `store → domain` among the crate root's children; `store::quizzes` using
//!   `store::views` is `quizzes → views` among `store`'s children. Every strongly connected
//!   group of two or more siblings is a cycle and is reported with the references that make
//!   it. So a feature folder may freely use its parent's shared types, and a parent may use
//!   its children, but two siblings may not depend on each other in both directions.
//!
//! - **File length.** Every file whose lines before a trailing `#[cfg(test)]` module (the
//!   usual unit-test module at the end of a file) exceed `max_lines`.
//!
//! Comments and string literals are skipped; the code of the trailing test module is not part
//! of the graph either (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path from the crate root (`[]` is the root).
type ModPath = Vec<String>;

/// Checks the crate whose sources are under `src_dir`: module cycles and file lengths.
///
/// Returns `Err` with a readable report listing every cycle (with the files and paths that
/// make each edge) and every file over `max_lines` (not counting its trailing test module).
pub fn check_module_structure(src_dir: &Path, max_lines: usize) -> Result<(), String> {
    let files = read_tree(src_dir)?;
    let mut problems = Vec::new();

    for file in &files {
        if file.counted_lines > max_lines {
            problems.push(format!(
                "{}: {} lines before its test module (at most {max_lines})",
                file.rel.display(),
                file.counted_lines
            ));
        }
    }

    for cycle in find_cycles(&files) {
        problems.push(cycle);
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "module structure of {} has {} problem(s):\n- {}",
            src_dir.display(),
            problems.len(),
            problems.join("\n- ")
        ))
    }
}

/// Panics with the report of [`check_module_structure`]: the one-line form for a test.
pub fn assert_module_structure(src_dir: &Path, max_lines: usize) {
    if let Err(report) = check_module_structure(src_dir, max_lines) {
        panic!("{report}");
    }
}

struct SourceFile {
    rel: PathBuf,
    module: ModPath,
    counted_lines: usize,
    /// Paths named by the file's code, made absolute (from the crate root).
    refs: Vec<ModPath>,
}

fn read_tree(src_dir: &Path) -> Result<Vec<SourceFile>, String> {
    let mut paths = Vec::new();
    collect_rs(src_dir, &mut paths)?;
    paths.sort();

    let mut texts = BTreeMap::new();
    for path in &paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        texts.insert(path.clone(), text);
    }

    // Module of each file: from its place in the tree, then `#[path]` declarations.
    let mut modules: BTreeMap<PathBuf, ModPath> = BTreeMap::new();
    for path in &paths {
        let rel = path.strip_prefix(src_dir).unwrap_or(path);
        modules.insert(path.clone(), module_of(rel));
    }
    // `#[path]` may chain; a few passes settle it.
    for _ in 0..4 {
        for (path, text) in &texts {
            let Some(declaring) = modules.get(path).cloned() else {
                continue;
            };
            for (name, target) in path_attributes(text) {
                let dir = path.parent().unwrap_or(src_dir);
                let target = normalise(&dir.join(target));
                if let Some(m) = modules.get_mut(&target) {
                    let mut module = declaring.clone();
                    module.push(name.clone());
                    *m = module;
                }
            }
        }
    }

    let mut files = Vec::new();
    for path in &paths {
        let text = &texts[path];
        let module = modules[path].clone();
        let (counted_lines, code) = split_trailing_test_module(text);
        let refs = references(&strip_comments_and_strings(code), &module);
        files.push(SourceFile {
            rel: path.strip_prefix(src_dir).unwrap_or(path).to_path_buf(),
            module,
            counted_lines,
            refs,
        });
    }
    Ok(files)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `lib.rs`/`main.rs` → root, `a/mod.rs` and `a.rs` → `a`, `a/b.rs` → `a::b`.
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_string());
    }
    parts
}

/// `#[path = "x.rs"] mod name;` declarations of a file: (name, path).
fn path_attributes(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("#[path") {
            let value = rest.split('"').nth(1).map(str::to_string);
            pending = value;
            continue;
        }
        if let Some(target) = pending.take() {
            let decl = line
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub(super) ")
                .trim_start_matches("pub ");
            if let Some(rest) = decl.strip_prefix("mod ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((name, target));
                }
            } else if line.starts_with("#[") {
                pending = Some(target);
            }
        }
    }
    out
}

/// Lines before a trailing `#[cfg(test)]` module, and the code before it.
///
/// The module is trailing when `#[cfg(test)]` starts a line, the next non-attribute line
/// declares a module with a body, and the file's last non-blank line is its closing `}`.
fn split_trailing_test_module(text: &str) -> (usize, &str) {
    let lines: Vec<&str> = text.lines().collect();
    let ends_with_brace = lines
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| *l == "}");
    if ends_with_brace {
        for (i, line) in lines.iter().enumerate().rev() {
            if line.trim_end() != "#[cfg(test)]" {
                continue;
            }
            let decl = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("#[") && !l.starts_with("//"));
            let is_module = decl.is_some_and(|d| {
                let d = d
                    .trim_start_matches("pub(crate) ")
                    .trim_start_matches("pub ");
                d.starts_with("mod ") && d.ends_with('{')
            });
            if is_module {
                let offset: usize = lines[..i].iter().map(|l| l.len() + 1).sum();
                let offset = offset.min(text.len());
                return (i, &text[..offset]);
            }
            break;
        }
    }
    (lines.len(), text)
}

/// The code with comments, string and character literals replaced by spaces.
fn strip_comments_and_strings(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
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
        } else if (c == 'r' || c == 'b')
            && !prev_is_ident(&chars, i)
            && raw_string_start(&chars, i).is_some()
        {
            let (hashes, body) = raw_string_start(&chars, i).unwrap_or((0, i));
            i = body;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a): skip only literals.
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// At `r"`, `r#"`, `br"`, `br#"`: the number of `#` and the index after the opening quote.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Star,
    Other,
}

fn tokenize(code: &str) -> Vec<Tok> {
    let chars: Vec<char> = code.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            toks.push(Tok::Ident(ident.trim_start_matches("r#").to_string()));
            continue;
        }
        match c {
            ':' if chars.get(i + 1) == Some(&':') => {
                toks.push(Tok::PathSep);
                i += 2;
                continue;
            }
            '{' => toks.push(Tok::Open),
            '}' => toks.push(Tok::Close),
            ',' => toks.push(Tok::Comma),
            '*' => toks.push(Tok::Star),
            c if c.is_whitespace() => {}
            c if c.is_ascii_digit() => {}
            _ => toks.push(Tok::Other),
        }
        i += 1;
    }
    toks
}

/// Every `crate::…` and `super::…` path of the code, absolute.
fn references(code: &str, module: &ModPath) -> Vec<ModPath> {
    let toks = tokenize(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let after_sep = i > 0 && toks[i - 1] == Tok::PathSep;
        let base = match &toks[i] {
            Tok::Ident(w) if w == "crate" && !after_sep => Some(Vec::new()),
            Tok::Ident(w) if w == "super" && !after_sep => {
                let mut base = module.clone();
                base.pop();
                Some(base)
            }
            _ => None,
        };
        let Some(mut base) = base else {
            i += 1;
            continue;
        };
        if toks.get(i + 1) != Some(&Tok::PathSep) {
            i += 1;
            continue;
        }
        i += 2;
        // `super::super::…`
        while toks.get(i) == Some(&Tok::Ident("super".into()))
            && toks.get(i + 1) == Some(&Tok::PathSep)
        {
            base.pop();
            i += 2;
        }
        i = parse_tree(&toks, i, base, &mut out);
    }
    out
}

/// Parses a use tree (or an expression path) at `i` under `prefix`; returns the index after.
fn parse_tree(toks: &[Tok], mut i: usize, mut prefix: ModPath, out: &mut Vec<ModPath>) -> usize {
    loop {
        match toks.get(i) {
            Some(Tok::Ident(w)) => {
                if w != "self" {
                    prefix.push(w.clone());
                }
                i += 1;
                if toks.get(i) == Some(&Tok::PathSep) {
                    i += 1;
                    continue;
                }
                out.push(prefix);
                return i;
            }
            Some(Tok::Open) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        None => return i,
                        Some(Tok::Close) => return i + 1,
                        Some(Tok::Comma) => i += 1,
                        Some(_) => {
                            i = parse_tree(toks, i, prefix.clone(), out);
                            // skip `as alias` and anything up to the next item of the group
                            let mut depth = 0usize;
                            while let Some(t) = toks.get(i) {
                                match t {
                                    Tok::Open => depth += 1,
                                    Tok::Close if depth == 0 => break,
                                    Tok::Close => depth -= 1,
                                    Tok::Comma if depth == 0 => break,
                                    _ => {}
                                }
                                i += 1;
                            }
                        }
                    }
                }
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
    }
}

/// The longest prefix of `path` that is a module file of the crate.
fn resolve(path: &ModPath, modules: &BTreeSet<ModPath>) -> ModPath {
    let mut p = path.clone();
    while !p.is_empty() && !modules.contains(&p) {
        p.pop();
    }
    p
}

type Edges = BTreeMap<(ModPath, ModPath), Vec<String>>;

fn find_cycles(files: &[SourceFile]) -> Vec<String> {
    let modules: BTreeSet<ModPath> = files.iter().map(|f| f.module.clone()).collect();
    // parent → (child → child) edges, with evidence
    let mut groups: BTreeMap<ModPath, Edges> = BTreeMap::new();
    for file in files {
        for r in &file.refs {
            let target = resolve(r, &modules);
            let from = &file.module;
            let common = from
                .iter()
                .zip(target.iter())
                .take_while(|(a, b)| a == b)
                .count();
            if common == from.len() || common == target.len() {
                continue; // ancestor or descendant
            }
            let parent = from[..common].to_vec();
            let a = from[..=common].to_vec();
            let b = target[..=common].to_vec();
            let evidence = format!("{} uses {}", file.rel.display(), display_path(r));
            let list = groups.entry(parent).or_default().entry((a, b)).or_default();
            if !list.contains(&evidence) {
                list.push(evidence);
            }
        }
    }

    let mut reports = Vec::new();
    for (parent, edges) in &groups {
        for scc in strongly_connected(edges) {
            if scc.len() < 2 {
                continue;
            }
            let names: Vec<String> = scc.iter().map(display_module).collect();
            let mut lines = vec![format!(
                "cycle among the children of {}: {}",
                display_module(parent),
                names.join(", ")
            )];
            for ((a, b), evidence) in edges {
                if scc.contains(a) && scc.contains(b) {
                    let shown: Vec<&str> = evidence.iter().take(3).map(String::as_str).collect();
                    let more = evidence.len().saturating_sub(3);
                    lines.push(format!(
                        "    {} → {}: {}{}",
                        display_module(a),
                        display_module(b),
                        shown.join("; "),
                        if more > 0 {
                            format!(" (and {more} more)")
                        } else {
                            String::new()
                        }
                    ));
                }
            }
            reports.push(lines.join("\n"));
        }
    }
    reports
}

/// Tarjan's algorithm over the edge list.
fn strongly_connected(edges: &Edges) -> Vec<BTreeSet<ModPath>> {
    let mut nodes: BTreeSet<&ModPath> = BTreeSet::new();
    let mut adj: BTreeMap<&ModPath, Vec<&ModPath>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        nodes.insert(a);
        nodes.insert(b);
        adj.entry(a).or_default().push(b);
    }

    struct State<'a> {
        index: usize,
        indices: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        out: Vec<BTreeSet<ModPath>>,
    }

    fn visit<'a>(v: &'a ModPath, adj: &BTreeMap<&'a ModPath, Vec<&'a ModPath>>, s: &mut State<'a>) {
        s.indices.insert(v, s.index);
        s.low.insert(v, s.index);
        s.index += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in adj.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if !s.indices.contains_key(w) {
                visit(w, adj, s);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.indices[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.indices[v] {
            let mut scc = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.insert(w.clone());
                if w == v {
                    break;
                }
            }
            s.out.push(scc);
        }
    }

    let mut state = State {
        index: 0,
        indices: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in nodes {
        if !state.indices.contains_key(v) {
            visit(v, &adj, &mut state);
        }
    }
    state.out
}

fn display_module(m: &ModPath) -> String {
    if m.is_empty() {
        "the crate root".to_string()
    } else {
        m.join("::")
    }
}

fn display_path(p: &ModPath) -> String {
    if p.is_empty() {
        "crate".to_string()
    } else {
        format!("crate::{}", p.join("::"))
    }
}
