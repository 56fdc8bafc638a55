//! Embeds the built web apps (`web/dist`, made by `scripts/setup.sh` / `npm run build`) into
//! the binary, so that `kreki` serves them from any working directory.
//!
//! `KREKI_WEB_DIST` names another built directory. When there is none (a fresh clone where
//! `cargo` runs before the web build), nothing is embedded: the crate still builds, says so
//! as a cargo warning, and the running service says so at start and in `/readyz`; the build
//! script runs again as soon as `web/` changes (the first `npm run build`).

use std::{
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

fn main() {
    println!("cargo:rerun-if-env-changed=KREKI_WEB_DIST");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let web = manifest.join("../../../web");
    let dist = env::var_os("KREKI_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| web.join("dist"));
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        println!("cargo:rerun-if-changed={}", dist.display());
        collect(&dist, &dist, &mut files);
        files.sort();
    } else {
        // Watch what exists, so that the first web build re-runs this script.
        let watched = if dist.parent().is_some_and(Path::is_dir) {
            dist.parent().map(Path::to_path_buf)
        } else {
            None
        };
        if let Some(w) = watched {
            println!("cargo:rerun-if-changed={}", w.display());
        }
        println!(
            "cargo:warning=web apps not built ({} missing): the binary embeds none; run scripts/setup.sh (or npm run build in web/) and build again",
            dist.display()
        );
    }
    let mut out = String::from(
        "/// The built web apps: (path below the web directory, content, ETag), sorted by path.\n\
         pub static FILES: &[(&str, &[u8], &str)] = &[\n",
    );
    for (rel, abs) in &files {
        let bytes = fs::read(abs).unwrap_or_default();
        let _ = writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?}), \"\\\"{:016x}\\\"\"),",
            abs.display().to_string(),
            fnv1a(&bytes)
        );
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var("OUT_DIR").unwrap_or_default()).join("web_assets.rs");
    if fs::read_to_string(&target).ok().as_deref() != Some(out.as_str()) {
        let _ = fs::write(&target, out);
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let abs = fs::canonicalize(&path).unwrap_or(path);
            out.push((rel, abs));
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
