//! Data-driven tests over scenario files: every good file (the test corpus
//! and the shipped library in `scenarios/`) loads, and every broken file in
//! `testdata/scenarios/bad/` fails with the message its first line expects
//! (`# expect: <text>`), line and column included.

use std::fs;
use std::path::{Path, PathBuf};

use ringlab_scenario::{self as scenario, ScenarioError};

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

/// A scenario the README's fragments are pasted into: a 30 s "steady" phase
/// and, unless the fragment brings its own phase, a 10 s "spike".
fn with_fragment(fragment: &str) -> String {
    let steady = "[[phase]]\nname = \"steady\"\nduration = \"30s\"\nrate = 1000\n";
    let spike = "[[phase]]\nname = \"spike\"\nduration = \"10s\"\nrate = \"x10\"\n";
    let cluster = "[cluster]\nnodes = 5\n";
    if fragment.contains("[[phase]]") {
        format!("{cluster}\n{steady}\n{fragment}")
    } else {
        format!("{cluster}\n{steady}\n{spike}\n{fragment}")
    }
}

#[test]
fn every_example_in_the_schema_reference_is_valid() {
    let readme = fs::read_to_string(manifest_dir().join("../scenarios/README.md"))
        .expect("scenarios/README.md exists");
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or(""))
        .collect();
    assert!(
        blocks.len() >= 6,
        "expected the README's examples, found {}",
        blocks.len()
    );
    let mut failures = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let text = with_fragment(block);
        if let Err(e) = scenario::parse(&text, &format!("README example {}", i + 1)) {
            failures.push(format!("{e}\n--- in ---\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    fn design_example() -> String {
        fs::read_to_string(manifest_dir().join("testdata/scenarios/good/design-example.toml"))
            .expect("the design example exists")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Damage a good file anywhere: the parser reports, never panics,
        /// and every problem points inside the file.
        #[test]
        fn damaged_files_never_panic(cut in any::<prop::sample::Index>(), len in 0usize..40, insert in "\\PC{0,12}") {
            let text = design_example();
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let damaged = format!("{}{}{}", &text[..at], insert, &text[end..]);
            if let Err(e) = scenario::parse(&damaged, "damaged.toml") {
                let lines = damaged.lines().count() + 1;
                for p in e.problems() {
                    prop_assert!(p.line >= 1 && p.line <= lines && p.column >= 1, "{:?}", p);
                }
                prop_assert!(!e.to_string().is_empty());
            }
        }

        /// Arbitrary text is rejected without a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = scenario::parse(&text, "noise.toml");
        }
    }
}
