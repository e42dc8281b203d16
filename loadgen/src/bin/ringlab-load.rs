//! `ringlab-load`: the workload engine against real Redis-protocol servers.
//! Everything but `main` lives in `ringlab_loadgen::driver::cli`.

#[cfg(not(madsim))]
fn main() {
    match ringlab_loadgen::driver::cli::main_with_args(std::env::args().collect()) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("ringlab-load: {e:#}");
            std::process::exit(2);
        }
    }
}

/// The simulation build has no real network: the simulator drives the
/// same driver itself.
#[cfg(madsim)]
fn main() {
    eprintln!("ringlab-load is built for real networks; use ringlab-sim in the simulation build");
    std::process::exit(2);
}
