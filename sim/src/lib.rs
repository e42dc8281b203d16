//! ringlab-sim: the deterministic cluster simulator.
