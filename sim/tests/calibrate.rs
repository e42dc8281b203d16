//! `ringlab-sim calibrate` end to end on a debug build: a real node, real
//! load runs, the fit and the simulated ladder. The figures of a debug
//! build on a busy test machine mean nothing, so this checks that every
//! step ran and that what it wrote is consistent, not the verdict (which
//! `benches/calibrate.sh` measures on a release build).
#![cfg(not(madsim))]

mod common;

use std::path::PathBuf;

use common::{run_sim, stderr};

/// `ringlab-node` and `ringlab-load` of this build: `cargo test --workspace`
/// builds every package's binaries before it runs any test, beside
/// `ringlab-sim`.
fn sibling(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_ringlab-sim")).with_file_name(name);
    assert!(
        p.is_file(),
        "{} is missing: run the workspace's tests (`cargo test --workspace`) or build it",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn calibrate_fits_and_compares_against_a_real_node() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let (node, load) = (sibling("ringlab-node"), sibling("ringlab-load"));
    let port = free_port().to_string();
    let o = run_sim(&[
        "calibrate",
        "--node-bin",
        node.to_str().unwrap(),
        "--load-bin",
        load.to_str().unwrap(),
        "--port",
        &port,
        // One window per run, so each rung's throughput is its count.
        "--duration",
        "1s",
        "--cost-rate",
        "2000",
        // Far apart, so the first is below 60% of the second's throughput
        // whatever the debug build's capacity (rates are at least 100/s).
        "--loads",
        "0.01,0.1",
        "--out",
        dir,
    ]);
    // 0: both targets held; 1: not (a debug build may be anywhere); 2
    // would be a failure to calibrate at all.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "status {:?}: {}",
        o.status,
        stderr(&o)
    );
    let md = std::fs::read_to_string(out.path().join("calibration.md")).unwrap();
    // Four cost runs (set and get at two sizes) that served requests.
    let cost_rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| set |") || l.starts_with("| get |"))
        .collect();
    assert_eq!(cost_rows.len(), 4, "{md}");
    assert!(cost_rows.iter().all(|r| !r.contains("| 0 |")), "{md}");
    // Two rungs, each with a real and a simulated throughput.
    let rungs = md
        .lines()
        .skip_while(|l| !l.starts_with("| rate |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .count();
    assert_eq!(rungs, 2, "{md}");
    assert!(md.contains("saturation throughput: real"), "{md}");
    // The fitted scenario is one the simulator accepts, with the fit in it.
    let fitted = out.path().join("calibrated.toml");
    let sc = ringlab_loadgen::scenario::load(&fitted).unwrap();
    assert_eq!(sc.capacity.cores, 1);
    assert!(sc.capacity.op_cost.mean() > std::time::Duration::ZERO);
    // Each rung has a real and a simulated report.
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("rate-") {
            assert!(p.join("real/summary.json").is_file(), "{name}");
            assert!(p.join("sim/summary.json").is_file(), "{name}");
        }
    }
}
