//! `--set KEY=VALUE` on the real `ringlab-sim` binary: the scenario is read
//! with the override applied before anything runs, and a bad override is
//! refused with the file's own message, naming the `--set`, and exit code 2.
//!
//! Plain build only: it never gets as far as simulating (the plain binary
//! cannot), which keeps it cheap; the override logic itself is unit-tested
//! in `loadgen/src/scenario/overrides.rs`.
#![cfg(not(madsim))]

mod common;

use common::{run_sim as sim, stderr};

#[test]
fn an_unknown_key_is_refused_naming_the_set_on_every_subcommand() {
    for args in [
        &["run", "scenarios/quickstart.toml"][..],
        &["sweep", "scenarios/quickstart.toml", "--seeds", "1..3"][..],
        &["check", "scenarios/quickstart.toml"][..],
    ] {
        let mut args = args.to_vec();
        args.extend(["--set", "cluster.nodes=4", "--set", "cluster.nodez=8"]);
        let o = sim(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(
                "scenarios/quickstart.toml: --set cluster.nodez=8: unknown key `cluster.nodez`"
            ),
            "{args:?}: {err}"
        );
        // The good override before it is not blamed.
        assert!(!err.contains("cluster.nodes=4"), "{args:?}: {err}");
    }
}

#[test]
fn a_bad_value_gets_the_files_message() {
    let o = sim(&[
        "run",
        "scenarios/quickstart.toml",
        "--set",
        "cluster.nodes=0",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--set cluster.nodes=0: cluster.nodes = 0 is impossible"),
        "{err}"
    );
}

#[test]
fn a_set_without_equals_is_a_usage_error() {
    let o = sim(&["run", "scenarios/quickstart.toml", "--set", "seed"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("expected KEY=VALUE"), "{err}");
}

#[test]
fn a_good_set_loads_and_reaches_the_simulation() {
    // The plain binary has no madsim engine: asked for it, it stops where
    // the simulation would start, so the scenario, override applied, was
    // valid.
    let o = sim(&[
        "run",
        "scenarios/quickstart.toml",
        "--engine",
        "madsim",
        "--set",
        "seed=3",
        "--set",
        "capacity.op_cost=25us",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("built without `--cfg madsim`"), "{err}");
}
