//! The crate's module structure (issue 17): no module cycles, no source file over 800 lines
//! before its unit-test module (`kreki_platform::structure`).

#[test]
fn modules_have_no_cycles_and_files_stay_under_800_lines() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    kreki_platform::structure::assert_module_structure(&src, 800);
}
