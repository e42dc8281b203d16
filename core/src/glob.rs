//! Redis's glob-style patterns (KEYS, SCAN MATCH, CONFIG GET), with the
//! meaning redis-server gives them: `*` any run of bytes,
//! `?` one byte, `[abc]` one of a set, `[^a]` anything but, `[a-z]` a range
//! (its ends in either order), `\x` the byte `x` itself, in a set too. An
//! unterminated `[` takes the rest of the pattern as its set, and a
//! trailing `\` is a literal backslash, as in Redis.
//!
//! A matcher written for byte slices, not a regex, so that the corner
//! cases (a range written backwards, `]` first in a set) answer as
//! redis-server does; node_compat compares KEYS patterns with a real one.
//! Like Redis, a `*` that
//! cannot match the rest of the pattern anywhere ends the search
//! ("skip longer matches"), which keeps patterns such as `*a*a*a*b` from
//! backtracking exponentially, and patterns nested past 1,000 stars match
//! nothing.

/// How deep `*` may nest before the match gives up (Redis's limit).
const MAX_NESTING: usize = 1000;

/// Whether `s` matches `pat`. `nocase` compares ASCII letters without case
/// (CONFIG GET); KEYS and SCAN are case-sensitive. As in Redis, an empty
/// string matches only the empty pattern.
pub fn matches(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_at(pat, s, nocase, &mut skip_longer, 0)
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase { c.to_ascii_lowercase() } else { c }
}

/// One step of Redis's loop: `p` and `s` are what is left of each.
fn match_at(mut p: &[u8], mut s: &[u8], nocase: bool, skip: &mut bool, depth: usize) -> bool {
    if depth > MAX_NESTING {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => return star(p, s, nocase, skip, depth),
            b'?' => {}
            b'[' => match class(&p[1..], s[0], nocase) {
                (true, rest) => p = rest,
                (false, _) => return false,
            },
            c => {
                // A backslash escapes the next byte; a trailing one is itself.
                let lit = if c == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                    p[0]
                } else {
                    c
                };
                if fold(lit, nocase) != fold(s[0], nocase) {
                    return false;
                }
            }
        }
        p = &p[1..];
        s = &s[1..];
        if s.is_empty() {
            // Trailing stars match the empty rest.
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
        }
    }
    p.is_empty() && s.is_empty()
}

/// `p` starts with `*`: tries the rest of the pattern at every suffix.
fn star(mut p: &[u8], mut s: &[u8], nocase: bool, skip: &mut bool, depth: usize) -> bool {
    while p.len() >= 2 && p[1] == b'*' {
        p = &p[1..];
    }
    if p.len() == 1 {
        return true;
    }
    while !s.is_empty() {
        if match_at(&p[1..], s, nocase, skip, depth + 1) {
            return true;
        }
        if *skip {
            return false;
        }
        s = &s[1..];
    }
    // The rest matched at no suffix: an earlier star taking more of the
    // string cannot help, so every caller stops (Redis's skipLongerMatches).
    *skip = true;
    false
}

/// A `[...]` set; `p` starts after the `[`. Returns whether `c` is in it,
/// and the pattern from the set's closing `]` (or its last byte when the
/// set is unterminated), which the caller steps past.
fn class(mut p: &[u8], c: u8, nocase: bool) -> (bool, &[u8]) {
    let not = p.first() == Some(&b'^');
    if not {
        p = &p[1..];
    }
    let mut hit = false;
    loop {
        match p {
            [b'\\', e, ..] => {
                p = &p[1..];
                hit |= *e == c;
            }
            [b']', ..] => break,
            // Unterminated: the caller's step past `]` ends the pattern.
            [] => return (hit != not, b"]"),
            [a, b'-', b, ..] => {
                // Redis compares a range's ends as C chars, signed on the
                // platforms it runs on: a byte past 0x7f is below 'a'.
                let signed = |x: u8| fold(x, nocase) as i8;
                let (lo, hi) = (signed(*a).min(signed(*b)), signed(*a).max(signed(*b)));
                p = &p[2..];
                hit |= (lo..=hi).contains(&signed(c));
            }
            [x, ..] => hit |= fold(*x, nocase) == fold(c, nocase),
        }
        p = &p[1..];
    }
    (hit != not, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn wildcards_sets_ranges_and_escapes_as_redis() {
        assert!(m("*", "anything"));
        // Redis's quirk: a pattern left over when the string is empty from
        // the start is not matched, not even `*` (KEYS * and MATCH * skip
        // the pattern, so the empty key still shows there).
        assert!(!m("*", ""));
        assert!(m("", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        // A range written backwards is the same range.
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?b", "a?b"));
        assert!(!m("a\\?b", "axb"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        // A trailing backslash is a literal one.
        assert!(m("a\\", "a\\"));
        // `]` right after `[` closes an empty set: nothing matches it.
        assert!(!m("[]a", "a"));
        // Case matters, except for CONFIG GET.
        assert!(!m("KEY", "key"));
        assert!(matches(b"MAXMEMORY*", b"maxmemory-policy", true));
        assert!(matches(b"[A-C]x", b"bX", true));
    }

    #[test]
    fn unterminated_sets_take_the_rest_of_the_pattern() {
        // Redis: the set runs to the pattern's end, and then the pattern
        // is used up.
        assert!(m("a[bc", "ab"));
        assert!(m("a[bc", "ac"));
        assert!(!m("a[bc", "abc"));
        assert!(m("[", "x") == m("[", "x"));
        assert!(!m("[", ""));
        assert!(m("[^", "x"));
    }

    #[test]
    fn stars_do_not_backtrack_exponentially() {
        let s = "a".repeat(200);
        let p = "*a".repeat(30) + "b";
        // Without the early stop this takes longer than the universe.
        assert!(!m(&p, &s));
        assert!(m(&("*a".repeat(30) + "*"), &s));
        // Past Redis's nesting limit nothing matches.
        let deep = "a*".repeat(1100);
        assert!(!m(&deep, &"a".repeat(1100)));
    }

    /// A byte that is no pattern syntax, or an escaped one.
    fn escape(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &c in s {
            if b"*?[]\\^-".contains(&c) {
                out.push(b'\\');
            }
            out.push(c);
        }
        out
    }

    proptest! {
        /// Every string matches itself escaped, `*`, and itself with any
        /// bytes turned into `?`, a set holding them, or a star.
        #[test]
        fn patterns_derived_from_a_string_match_it(
            s in proptest::collection::vec(any::<u8>(), 0..24),
            edits in proptest::collection::vec((0usize..24, 0u8..4), 0..6),
        ) {
            prop_assert!(matches(&escape(&s), &s, false));
            prop_assert!(matches(b"*", &s, false) || s.is_empty());
            let mut parts: Vec<Vec<u8>> = s.iter().map(|c| escape(&[*c])).collect();
            for (i, how) in edits {
                if i >= parts.len() {
                    continue;
                }
                let c = s[i];
                parts[i] = match how {
                    0 => b"?".to_vec(),
                    1 => [b"[".as_slice(), &escape(&[c]), b"]"].concat(),
                    2 => b"*".to_vec(),
                    // A range of every ASCII byte (Redis compares range
                    // ends as signed chars, so bytes past 0x7f stay literal).
                    _ if c < 0x80 => vec![b'[', 0, b'-', 0x7f, b']'],
                    _ => escape(&[c]),
                };
            }
            prop_assert!(matches(&parts.concat(), &s, false), "{:?}", String::from_utf8_lossy(&parts.concat()));
        }

        /// A literal pattern (escaped) matches exactly the equal string.
        #[test]
        fn escaped_literals_match_only_themselves(
            a in proptest::collection::vec(any::<u8>(), 0..12),
            b in proptest::collection::vec(any::<u8>(), 0..12),
        ) {
            prop_assert_eq!(matches(&escape(&a), &b, false), a == b);
        }

        /// `[^x]` is the complement of `[x]` on one byte.
        #[test]
        fn negated_sets_complement(c in any::<u8>(), set in proptest::collection::vec(any::<u8>(), 1..5)) {
            let inner = escape(&set);
            let yes = [b"[".as_slice(), &inner, b"]"].concat();
            let no = [b"[^".as_slice(), &inner, b"]"].concat();
            prop_assert_ne!(matches(&yes, &[c], false), matches(&no, &[c], false));
            prop_assert_eq!(matches(&yes, &[c], false), set.contains(&c));
        }
    }
}
