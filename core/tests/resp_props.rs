//! Properties of the RESP2 codec: no input panics it, every prefix of a
//! valid input asks for more bytes without consuming any, encoding round-
//! trips, splitting a stream anywhere changes nothing, inline quoting
//! follows Redis, and limits give the right error from the header alone.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use ringlab_core::protocol::resp::{
    Frame, Limits, ProtocolError, RequestDecoder, encode, parse_frame, parse_request, write_command,
};

// ---------------------------------------------------------------------------
// Strategies and helpers

/// Line text: any bytes but CR and LF.
fn line_text() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..24,
    )
    .prop_map(Bytes::from)
}

fn frame() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        line_text().prop_map(Frame::Simple),
        line_text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        prop::collection::vec(any::<u8>(), 0..48).prop_map(|b| Frame::Bulk(b.into())),
        Just(Frame::Null),
        Just(Frame::NullArray),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop::collection::vec(inner, 0..6).prop_map(Frame::Array)
    })
}

fn request() -> impl Strategy<Value = Vec<Vec<u8>>> {
    // Past 16 arguments the parser builds them by a second walk.
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..32), 1..24)
}

fn encoded(frame: &Frame) -> BytesMut {
    let mut out = BytesMut::new();
    encode(frame, &mut out);
    out
}

fn command_bytes(args: &[Vec<u8>]) -> BytesMut {
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let mut out = BytesMut::new();
    write_command(&mut out, &refs);
    out
}

fn as_bytes(args: &[Vec<u8>]) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

/// Parses every request in `input` in one go.
fn all_requests(input: &[u8], limits: &Limits) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(args) = parse_request(&mut buf, limits)? {
        out.push(args);
    }
    Ok(out)
}

/// Feeds `input` to a decoder in chunks ending at `cuts`, parsing after
/// each chunk as a server's read loop would.
fn requests_in_chunks(
    input: &[u8],
    cuts: &[usize],
    limits: &Limits,
) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut decoder = RequestDecoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(fed, input.len());
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        while let Some(args) = decoder.decode(&mut buf, limits)? {
            out.push(args);
        }
    }
    Ok(out)
}

fn frames_in_chunks(
    input: &[u8],
    cuts: &[usize],
    limits: &Limits,
) -> Result<Vec<Frame>, ProtocolError> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(fed, input.len());
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        while let Some(frame) = parse_frame(&mut buf, limits)? {
            out.push(frame);
        }
    }
    Ok(out)
}

/// Bytes that look like RESP often enough to reach deep into the parser.
fn resp_ish() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: &[u8] = b"*$:+-\r\n0123456789 \"'\\xaf";
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(alphabet),
            1 => any::<u8>(),
        ],
        0..96,
    )
}

fn small_limits() -> impl Strategy<Value = Limits> {
    (0..64usize, 0..8usize, 0..32usize, 0..6usize).prop_map(
        |(max_bulk, max_array, max_inline, max_depth)| Limits {
            max_bulk,
            max_array,
            max_inline,
            max_depth,
            unauthenticated: false,
        },
    )
}

/// The error the parser must report for `frame` under `limits`, if any:
/// the first limit broken in the order the frame is read.
fn first_violation(frame: &Frame, limits: &Limits, depth: usize) -> Option<ProtocolError> {
    match frame {
        Frame::Simple(s) | Frame::Error(s) if s.len() > limits.max_inline => {
            Some(ProtocolError::TooBigLine)
        }
        Frame::Bulk(b) if b.len() > limits.max_bulk => Some(ProtocolError::InvalidBulkLength),
        Frame::Array(items) => {
            if items.len() > limits.max_array {
                Some(ProtocolError::InvalidMultibulkLength)
            } else if depth >= limits.max_depth {
                Some(ProtocolError::TooDeep {
                    max: limits.max_depth,
                })
            } else {
                items
                    .iter()
                    .find_map(|item| first_violation(item, limits, depth + 1))
            }
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Fixed cases

#[test]
fn what_redis_benchmark_sends_parses() {
    let limits = Limits::default();
    let input = b"PING\r\n*3\r\n$3\r\nSET\r\n$16\r\nkey:000000012345\r\n$3\r\nxxx\r\n\
                  *2\r\n$3\r\nGET\r\n$16\r\nkey:000000012345\r\n";
    let got = all_requests(input, &limits).expect("valid pipeline");
    let want: Vec<Vec<Bytes>> = vec![
        vec!["PING".into()],
        vec!["SET".into(), "key:000000012345".into(), "xxx".into()],
        vec!["GET".into(), "key:000000012345".into()],
    ];
    assert_eq!(got, want);
}

#[test]
fn empty_requests_are_skipped_like_redis() {
    let limits = Limits::default();
    let got = all_requests(b"\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n", &limits).expect("valid");
    assert_eq!(got, vec![vec![Bytes::from("PING")]]);
    let mut buf = BytesMut::from(&b"\r\n*0\r\n"[..]);
    assert_eq!(parse_request(&mut buf, &limits), Ok(None));
    assert!(buf.is_empty(), "empty requests consumed");
}

#[test]
fn request_errors_say_what_redis_says() {
    let limits = Limits::default();
    let cases: [(&[u8], ProtocolError); 10] = [
        (b"*3\r\n:1\r\n", ProtocolError::ExpectedDollar { got: b':' }),
        (b"*1\r\n$-1\r\n", ProtocolError::InvalidBulkLength),
        (b"*1\r\n$x\r\n", ProtocolError::InvalidBulkLength),
        (b"*x\r\n", ProtocolError::InvalidMultibulkLength),
        (b"*1048577\r\n", ProtocolError::InvalidMultibulkLength),
        (
            b"*1\r\n$3\r\nabcd\r\n",
            ProtocolError::ExpectedCrlfAfterBulk,
        ),
        (b"*1\r\n$3\rx", ProtocolError::ExpectedLf { got: b'x' }),
        (b"SET a \"b\r\n", ProtocolError::UnbalancedQuotes),
        // A closing quote must be followed by a space.
        (b"a\"b c\"d \n", ProtocolError::UnbalancedQuotes),
        (b"a 'b'c\n", ProtocolError::UnbalancedQuotes),
    ];
    for (input, want) in cases {
        let mut buf = BytesMut::from(input);
        assert_eq!(
            parse_request(&mut buf, &limits),
            Err(want),
            "{}",
            input.escape_ascii()
        );
    }
    assert_eq!(
        ProtocolError::UnbalancedQuotes.to_string(),
        "unbalanced quotes in request"
    );
    assert_eq!(
        ProtocolError::TooBigInlineRequest.to_string(),
        "too big inline request"
    );
    assert_eq!(
        ProtocolError::InvalidMultibulkLength.to_string(),
        "invalid multibulk length"
    );
}

#[test]
fn inline_quoting_follows_sdssplitargs() {
    let limits = Limits::default();
    let cases: [(&[u8], Vec<&[u8]>); 6] = [
        (b"SET a \"b c\"\r\n", vec![b"SET", b"a", b"b c"]),
        (
            b"set 'it\\'s' \"\\x41\\n\\t\\\\\\\"\"\n",
            vec![b"set", b"it's", b"A\n\t\\\""],
        ),
        (b"  get\tkey  \r\n", vec![b"get", b"key"]),
        (b"echo \"\" ''\r\n", vec![b"echo", b"", b""]),
        (b"x 'a\\nb' \"\\xZZ\"\n", vec![b"x", b"a\\nb", b"xZZ"]),
        (b"k\"v w\"\n", vec![b"kv w"]),
    ];
    for (input, want) in cases {
        let mut buf = BytesMut::from(input);
        let got = parse_request(&mut buf, &limits);
        let want: Vec<Bytes> = want.into_iter().map(Bytes::copy_from_slice).collect();
        assert_eq!(got, Ok(Some(want)), "{}", input.escape_ascii());
        assert!(buf.is_empty());
    }
}

#[test]
fn limits_apply_from_the_header_alone() {
    let limits = Limits {
        max_bulk: 100,
        max_array: 4,
        max_inline: 16,
        max_depth: 2,
        unauthenticated: false,
    };
    let request_cases: [(&[u8], ProtocolError); 5] = [
        (b"*1\r\n$101\r\n", ProtocolError::InvalidBulkLength),
        (b"*5\r\n", ProtocolError::InvalidMultibulkLength),
        (b"PING PING PING PI", ProtocolError::TooBigInlineRequest),
        (b"*00000000000000001", ProtocolError::TooBigMultibulkCount),
        (b"*1\r\n$00000000000000001", ProtocolError::TooBigBulkCount),
    ];
    for (input, want) in request_cases {
        let mut buf = BytesMut::from(input);
        assert_eq!(
            parse_request(&mut buf, &limits),
            Err(want),
            "{}",
            input.escape_ascii()
        );
    }
    let frame_cases: [(&[u8], ProtocolError); 4] = [
        (b"$101\r\n", ProtocolError::InvalidBulkLength),
        (b"*5\r\n", ProtocolError::InvalidMultibulkLength),
        (b"*1\r\n*1\r\n*1\r\n", ProtocolError::TooDeep { max: 2 }),
        (b"+0123456789abcdefg", ProtocolError::TooBigLine),
    ];
    for (input, want) in frame_cases {
        let mut buf = BytesMut::from(input);
        assert_eq!(
            parse_frame(&mut buf, &limits),
            Err(want),
            "{}",
            input.escape_ascii()
        );
    }
    // The defaults refuse a 512 MiB + 1 bulk before any of it arrives, and
    // wait for a 512 MiB one without reserving it.
    let defaults = Limits::default();
    let mut buf = BytesMut::from(&b"*1\r\n$536870913\r\n"[..]);
    assert_eq!(
        parse_request(&mut buf, &defaults),
        Err(ProtocolError::InvalidBulkLength)
    );
    let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nab"[..]);
    let mut decoder = RequestDecoder::new();
    assert_eq!(decoder.decode(&mut buf, &defaults), Ok(None));
    assert_eq!(decoder.wanted_len(), Some(16 + 536_870_912 + 2));
    assert!(buf.capacity() < 1024);
}

#[test]
fn frames_parse_as_servers_send_them() {
    let limits = Limits::default();
    let input =
        b"+OK\r\n-ERR no\r\n:-42\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n";
    let got = frames_in_chunks(input, &[], &limits).expect("valid frames");
    assert_eq!(
        got,
        vec![
            Frame::Simple("OK".into()),
            Frame::Error("ERR no".into()),
            Frame::Integer(-42),
            Frame::Null,
            Frame::NullArray,
            Frame::Array(vec![]),
            Frame::Bulk(Bytes::new()),
            Frame::Array(vec![
                Frame::Bulk("a".into()),
                Frame::Array(vec![Frame::Integer(1)])
            ]),
        ]
    );
    let mut buf = BytesMut::from(&b"!3\r\n"[..]);
    let err = parse_frame(&mut buf, &limits).unwrap_err();
    assert_eq!(err, ProtocolError::UnknownType { got: b'!' });
    assert_eq!(
        err.to_string(),
        "unknown frame type '!': expected one of + - : $ *"
    );
    let mut buf = BytesMut::from(&b":12a\r\n"[..]);
    assert_eq!(
        parse_frame(&mut buf, &limits),
        Err(ProtocolError::InvalidInteger)
    );
}

#[test]
fn line_breaks_in_status_text_cannot_break_the_stream() {
    let mut out = BytesMut::new();
    encode(&Frame::Error("ERR a\r\nb".into()), &mut out);
    assert_eq!(&out[..], b"-ERR a  b\r\n");
    let parsed = parse_frame(&mut out, &Limits::default());
    assert_eq!(parsed, Ok(Some(Frame::Error("ERR a  b".into()))));
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop_oneof![resp_ish(), prop::collection::vec(any::<u8>(), 0..96)],
        limits in prop_oneof![Just(Limits::default()), small_limits()],
    ) {
        let mut buf = BytesMut::from(&input[..]);
        let mut decoder = RequestDecoder::new();
        let mut last = buf.len();
        while let Ok(Some(_)) = decoder.decode(&mut buf, &limits) {
            prop_assert!(buf.len() < last, "a request consumed nothing");
            last = buf.len();
        }
        let mut buf = BytesMut::from(&input[..]);
        let mut last = buf.len();
        while let Ok(Some(_)) = parse_frame(&mut buf, &limits) {
            prop_assert!(buf.len() < last, "a frame consumed nothing");
            last = buf.len();
        }
    }

    #[test]
    fn frames_round_trip(frames in prop::collection::vec(frame(), 1..4)) {
        let mut bytes = BytesMut::new();
        for f in &frames {
            encode(f, &mut bytes);
        }
        let mut buf = bytes.clone();
        for f in &frames {
            prop_assert_eq!(parse_frame(&mut buf, &Limits::default()), Ok(Some(f.clone())));
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn every_prefix_of_a_frame_waits_untouched(f in frame()) {
        let bytes = encoded(&f);
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            prop_assert_eq!(parse_frame(&mut buf, &Limits::default()), Ok(None), "cut {}", cut);
            prop_assert_eq!(&buf[..], &bytes[..cut]);
        }
    }

    #[test]
    fn every_prefix_of_a_request_waits_untouched(args in request()) {
        let bytes = command_bytes(&args);
        let limits = Limits::default();
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            prop_assert_eq!(parse_request(&mut buf, &limits), Ok(None), "cut {}", cut);
            prop_assert_eq!(&buf[..], &bytes[..cut]);
        }
    }

    #[test]
    fn a_pipeline_split_anywhere_parses_the_same(
        requests in prop::collection::vec(request(), 1..4),
        inline in any::<bool>(),
    ) {
        let limits = Limits::default();
        let mut bytes = BytesMut::new();
        if inline {
            bytes.extend_from_slice(b"PING\r\n");
        }
        for args in &requests {
            bytes.extend_from_slice(&command_bytes(args));
        }
        let mut want: Vec<Vec<Bytes>> = requests.iter().map(|a| as_bytes(a)).collect();
        if inline {
            want.insert(0, vec![Bytes::from("PING")]);
        }
        prop_assert_eq!(&all_requests(&bytes, &limits).expect("valid"), &want);
        for cut in 0..=bytes.len() {
            prop_assert_eq!(&requests_in_chunks(&bytes, &[cut], &limits).expect("valid"), &want);
        }
        let every_byte: Vec<usize> = (0..bytes.len()).collect();
        prop_assert_eq!(&requests_in_chunks(&bytes, &every_byte, &limits).expect("valid"), &want);
    }

    #[test]
    fn frames_split_anywhere_parse_the_same(frames in prop::collection::vec(frame(), 1..3)) {
        let limits = Limits::default();
        let mut bytes = BytesMut::new();
        for f in &frames {
            encode(f, &mut bytes);
        }
        for cut in 0..=bytes.len() {
            prop_assert_eq!(&frames_in_chunks(&bytes, &[cut], &limits).expect("valid"), &frames);
        }
    }

    #[test]
    fn quoted_inline_arguments_come_back(
        args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 1..6),
        styles in prop::collection::vec(0..3u8, 6),
    ) {
        let mut line = Vec::new();
        for (arg, style) in args.iter().zip(&styles) {
            // A line whose first byte is `*` is a multibulk header, not an
            // inline command (Redis decides by that byte), so a bare first
            // argument may not start with one.
            let plain_ok = !arg.is_empty()
                && arg.iter().all(|b| b.is_ascii_graphic() && !b"\"'".contains(b))
                && !(line.is_empty() && arg[0] == b'*');
            // Single quotes cannot hold a newline (it ends the line) or end
            // in a backslash (`\'` would escape the closing quote).
            let single_ok = !arg.contains(&b'\n') && arg.last() != Some(&b'\\');
            match style {
                0 if plain_ok => line.extend_from_slice(arg),
                1 if single_ok => {
                    line.push(b'\'');
                    for &b in arg {
                        if b == b'\'' {
                            line.extend_from_slice(b"\\'");
                        } else {
                            line.push(b);
                        }
                    }
                    line.push(b'\'');
                }
                _ => {
                    line.push(b'"');
                    for &b in arg {
                        match b {
                            b'"' => line.extend_from_slice(b"\\\""),
                            b'\\' => line.extend_from_slice(b"\\\\"),
                            b'\n' => line.extend_from_slice(b"\\n"),
                            b'\t' => line.extend_from_slice(b"\\t"),
                            b' '..=b'~' => line.push(b),
                            _ => line.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
                        }
                    }
                    line.push(b'"');
                }
            }
            line.push(b' ');
        }
        line.extend_from_slice(b"\r\n");
        let mut buf = BytesMut::from(&line[..]);
        prop_assert_eq!(parse_request(&mut buf, &Limits::default()), Ok(Some(as_bytes(&args))));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn over_limit_frames_give_the_first_broken_limit(
        f in frame(),
        max_bulk in 0..48usize,
        max_array in 0..6usize,
        max_inline in 20..30usize,
        max_depth in 0..7usize,
    ) {
        let limits = Limits { max_bulk, max_array, max_inline, max_depth, unauthenticated: false };
        let mut buf = encoded(&f);
        let want = match first_violation(&f, &limits, 0) {
            Some(err) => Err(err),
            None => Ok(Some(f.clone())),
        };
        prop_assert_eq!(parse_frame(&mut buf, &limits), want);
    }

    #[test]
    fn over_limit_requests_are_refused(
        args in request(),
        max_bulk in 0..40usize,
        max_array in 0..6usize,
    ) {
        let limits = Limits { max_bulk, max_array, ..Limits::default() };
        let mut buf = command_bytes(&args);
        let want = if args.len() > max_array {
            Err(ProtocolError::InvalidMultibulkLength)
        } else if args.iter().any(|a| a.len() > max_bulk) {
            Err(ProtocolError::InvalidBulkLength)
        } else {
            Ok(Some(as_bytes(&args)))
        };
        prop_assert_eq!(parse_request(&mut buf, &limits), want);
    }
}
