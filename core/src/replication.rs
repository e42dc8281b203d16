//! TODO(skeleton): being written.
