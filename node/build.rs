// Records the git commit the binary is built from as `SENDJAY_COMMIT` (for the `sendjay_build_info` metric).
//
// Order: the `SENDJAY_COMMIT` environment variable (set it when building outside a git checkout, e.g. in a
// container build), else `git rev-parse --short=12 HEAD`, else `unknown`. The router's build script includes
// this file.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=SENDJAY_COMMIT");
    let commit = std::env::var("SENDJAY_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SENDJAY_COMMIT={commit}");
    // Build again when HEAD moves: HEAD itself (branch switches), the branch's ref, and packed refs.
    // Only existing files: cargo reruns the script every time for a watched path that does not exist.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) {
        let mut watched = vec![dir.join("HEAD"), dir.join("packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(dir.join(branch));
        }
        for path in watched.into_iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    } else {
        // Not a git checkout: nothing to watch but the build script itself.
        println!("cargo:rerun-if-changed=build.rs");
    }
}
