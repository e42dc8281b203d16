//! Comparing secrets (the client password, the cluster secret) without
//! leaking through timing how much of a guess was right.

/// Whether `a` and `b` are the same bytes, in a time that depends only on
/// the longer one's length, never on where they first differ: a byte-wise
/// `==` stops at the first difference, which lets an attacker who can time
/// the answers guess a password one byte at a time.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    // A length difference alone makes them unequal; it is folded into the
    // same accumulator so no early return reveals it.
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    // Keeps the optimiser from turning the loop back into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_compare_equal() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"sesame", b"sesame"));
        let long = vec![0xA5u8; 4096];
        assert!(ct_eq(&long, &long.clone()));
    }

    #[test]
    fn any_difference_compares_unequal() {
        assert!(!ct_eq(b"sesame", b"sesamE"));
        assert!(!ct_eq(b"sesame", b"Sesame"));
        assert!(!ct_eq(b"\x00", b"\x01"));
    }

    #[test]
    fn different_lengths_compare_unequal_even_with_a_zero_tail() {
        // The shorter side is padded with zeros while comparing: the length
        // check must still tell these apart.
        assert!(!ct_eq(b"abc", b"abc\x00"));
        assert!(!ct_eq(b"abc\x00", b"abc"));
        assert!(!ct_eq(b"", b"\x00"));
        assert!(!ct_eq(b"sesame", b"sesam"));
        assert!(!ct_eq(b"", b"x"));
    }
}
