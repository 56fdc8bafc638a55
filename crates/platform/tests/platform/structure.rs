//! The module-structure checker on small trees written to a temporary directory.

use std::path::{Path, PathBuf};

use kreki_platform::structure::check_module_structure;

/// A fresh temporary crate `src` with the given files.
fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kreki-structure-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn check(dir: &Path, max_lines: usize) -> Result<(), String> {
    let result = check_module_structure(dir, max_lines);
    std::fs::remove_dir_all(dir).ok();
    result
}

#[test]
fn a_cycle_between_two_top_level_modules_is_found() {
    let dir = tree(
        "cycle",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "use crate::b::B;\npub struct A;\n"),
            (
                "b.rs",
                "pub struct B;\npub fn f() -> crate::a::A { crate::a::A }\n",
            ),
        ],
    );
    let report = check(&dir, 800).unwrap_err();
    assert!(
        report.contains("cycle among the children of the crate root: a, b"),
        "{report}"
    );
    assert!(report.contains("a → b: a.rs uses crate::b::B"), "{report}");
    assert!(report.contains("b → a: b.rs uses crate::a::A"), "{report}");
}

#[test]
fn one_way_references_parents_and_children_are_no_cycle() {
    let dir = tree(
        "none",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\nuse crate::a::A;\n"),
            (
                "a/mod.rs",
                "pub mod inner;\npub use inner::A;\nuse crate::a::inner::helper;\n",
            ),
            // a child uses its parent and the crate root: not a cycle
            (
                "a/inner.rs",
                "use super::*;\nuse crate::Thing;\npub struct A;\npub fn helper() {}\n",
            ),
            (
                "b.rs",
                "use crate::a::A;\n// crate::b is mentioned in a comment only: crate::a\n",
            ),
        ],
    );
    check(&dir, 800).unwrap();
}

#[test]
fn comments_and_strings_are_not_references() {
    let dir = tree(
        "strings",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "use crate::b::B;\n"),
            (
                "b.rs",
                "/// see [`crate::a`]\npub struct B;\nconst S: &str = \"crate::a::x\";\nconst R: &str = r#\"crate::a\"#;\n/* crate::a::A */\nfn f<'a>(x: &'a str) -> char { let _ = x; 'c' }\n",
            ),
        ],
    );
    check(&dir, 800).unwrap();
}

#[test]
fn nested_use_groups_are_followed() {
    let dir = tree(
        "groups",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
            (
                "a.rs",
                "use crate::{c::C, b::{self, inner::{X as Y, Z}}};\n",
            ),
            ("b/mod.rs", "pub mod inner;\n"),
            (
                "b/inner.rs",
                "pub struct X;\npub struct Z;\nuse crate::c::C;\n",
            ),
            ("c.rs", "pub struct C;\nuse crate::{b, a::{self}};\n"),
        ],
    );
    let report = check(&dir, 800).unwrap_err();
    assert!(report.contains("a, b, c"), "{report}");
    assert!(report.contains("a → b: a.rs uses crate::b"), "{report}");
    assert!(report.contains("c → a: c.rs uses crate::a"), "{report}");
}

#[test]
fn super_paths_resolve_against_the_file_module() {
    // store::quizzes ↔ store::views through `super::`: a cycle among store's children,
    // while both using `super::Store` (their parent) is fine.
    let dir = tree(
        "super",
        &[
            ("lib.rs", "pub mod store;\n"),
            (
                "store/mod.rs",
                "mod quizzes;\nmod views;\npub struct Store;\n",
            ),
            (
                "store/quizzes.rs",
                "use super::Store;\nuse super::views::render;\npub fn q() {}\n",
            ),
            (
                "store/views.rs",
                "use super::super::store::Store;\npub fn render() { super::quizzes::q() }\n",
            ),
        ],
    );
    let report = check(&dir, 800).unwrap_err();
    assert!(
        report.contains("cycle among the children of store: store::quizzes, store::views"),
        "{report}"
    );
    assert!(!report.contains("the crate root"), "{report}");
}

#[test]
fn path_attributes_place_the_file() {
    let dir = tree(
        "path",
        &[
            (
                "lib.rs",
                "pub mod a;\n#[path = \"other/b_impl.rs\"]\npub mod b;\n",
            ),
            ("a.rs", "use crate::b::B;\n"),
            ("other/b_impl.rs", "pub struct B;\nuse crate::a;\n"),
        ],
    );
    let report = check(&dir, 800).unwrap_err();
    assert!(
        report.contains("cycle among the children of the crate root: a, b"),
        "{report}"
    );
}

#[test]
fn long_files_are_reported_without_their_trailing_test_module() {
    let body = "fn f() {}\n".repeat(10);
    let tests = format!(
        "#[cfg(test)]\nmod tests {{\n{}}}\n",
        "    fn t() {}\n".repeat(50)
    );
    let dir = tree(
        "lines",
        &[
            ("lib.rs", "pub mod short;\npub mod long;\n"),
            ("short.rs", &format!("{body}\n{tests}")),
            ("long.rs", &format!("{body}{body}")),
        ],
    );
    let report = check(&dir, 15).unwrap_err();
    assert!(
        report.contains("long.rs: 20 lines before its test module (at most 15)"),
        "{report}"
    );
    assert!(!report.contains("short.rs"), "{report}");
    assert!(report.contains("1 problem(s)"), "{report}");
}

#[test]
fn references_in_the_trailing_test_module_do_not_count() {
    let dir = tree(
        "testmod",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "use crate::b::B;\n"),
            (
                "b.rs",
                "pub struct B;\n\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
            ),
        ],
    );
    check(&dir, 800).unwrap();
}
