//! TODO(skeleton): criterion benchmark being written.
fn main() {}
