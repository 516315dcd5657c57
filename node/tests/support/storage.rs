//! What a local file store holds on disk, for tests that check nothing is left behind.
#![allow(dead_code)]

/// Regular files under `dir`, staging files included.
pub fn files_on_disk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(p.display().to_string());
            }
        }
    }
    found
}
