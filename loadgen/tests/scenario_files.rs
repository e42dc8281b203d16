//! Data-driven tests over scenario files: every good file (the test corpus
//! and the shipped library in `scenarios/`) loads, and every broken file in
//! `testdata/scenarios/bad/` fails with the message its first line expects
//! (`# expect: <text>`), line and column included.

use std::fs;
use std::path::{Path, PathBuf};

use ringlab_loadgen::scenario::{self, ScenarioError};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.toml` files in `dir`, sorted so failures list in a stable order.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Loads each file; returns the failures as text.
fn load_all(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| scenario::load(f).err().map(|e| e.to_string()))
        .collect()
}

#[test]
fn good_test_scenarios_load() {
    let files = toml_files(&manifest_dir().join("testdata/scenarios/good"));
    assert!(
        files.len() >= 2,
        "expected the good corpus, found {files:?}"
    );
    let failures = load_all(&files);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_shipped_scenario_library_loads() {
    let files = toml_files(&manifest_dir().join("../scenarios"));
    assert!(
        files.iter().any(|f| f.ends_with("quickstart.toml")),
        "scenarios/quickstart.toml is missing: {files:?}"
    );
    let failures = load_all(&files);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The expected message of a broken file: its first line's
/// `# expect: <text>`, or its sibling `.err` file.
fn expectation(file: &Path, text: &str) -> Option<String> {
    let first = text.lines().next().unwrap_or("");
    if let Some(e) = first.strip_prefix("# expect:") {
        return Some(e.trim().to_string());
    }
    fs::read_to_string(file.with_extension("err"))
        .ok()
        .map(|s| s.trim().to_string())
}

#[test]
fn every_broken_scenario_fails_with_its_expected_message() {
    let dir = manifest_dir().join("testdata/scenarios/bad");
    let files = toml_files(&dir);
    assert!(
        files.len() >= 20,
        "expected at least 20 broken files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("readable test file");
        let name = format!("bad/{}", file.file_name().unwrap().to_string_lossy());
        let Some(want) = expectation(file, &text) else {
            failures.push(format!(
                "{name}: has no `# expect:` first line and no .err file"
            ));
            continue;
        };
        match scenario::parse(&text, &name) {
            Ok(_) => failures.push(format!("{name}: loaded, but should fail with: {want}")),
            Err(e) => {
                let got = e.to_string();
                if !got.contains(&want) {
                    failures.push(format!("{name}:\n  expected: {want}\n  got:      {got}"));
                }
                assert!(
                    matches!(e, ScenarioError::Invalid { .. }) && !e.problems().is_empty(),
                    "{name}: an invalid file must list its problems"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_file_is_a_read_error_naming_the_path() {
    let path = manifest_dir().join("testdata/scenarios/no-such-file.toml");
    let err = scenario::load(&path).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert!(err.to_string().contains("no-such-file.toml"), "{err}");
}
