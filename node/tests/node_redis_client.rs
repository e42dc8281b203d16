//! A real Redis client library (the `redis` crate, sync API) against a
//! 3-node cluster: it must not notice it is not talking to Redis.
#![cfg(not(madsim))]

mod node_support;

use node_support::TestCluster;
use redis::Commands;

#[test]
fn redis_crate_works_against_every_node_of_a_cluster() {
    let c = TestCluster::start(3, |cfg| {
        cfg.n = 3;
        cfg.r = 2;
        cfg.w = 2;
    });
    let mut conns: Vec<redis::Connection> = (0..3)
        .map(|i| {
            redis::Client::open(format!("redis://{}/", c.addr(i)))
                .expect("client")
                .get_connection()
                .expect("connection")
        })
        .collect();

    let () = conns[0].set("greeting", "hello").unwrap();
    let got: String = conns[1].get("greeting").unwrap();
    assert_eq!(got, "hello");
    let missing: Option<String> = conns[2].get("nope").unwrap();
    assert_eq!(missing, None);

    let set: bool = conns[2].expire("greeting", 100).unwrap();
    assert!(set);
    let ttl: i64 = conns[0].ttl("greeting").unwrap();
    assert_eq!(ttl, 100);

    let n: i64 = conns[0].incr("counter", 1).unwrap();
    assert_eq!(n, 1);
    let n: i64 = conns[1].incr("counter", 41).unwrap();
    assert_eq!(n, 42);
    let n: i64 = conns[2].decr("counter", 2).unwrap();
    assert_eq!(n, 40);

    let () = conns[1]
        .mset(&[("a", "1"), ("b", "2"), ("c", "3")])
        .unwrap();
    let vals: Vec<Option<String>> = conns[2].mget(&["a", "b", "zz", "c"]).unwrap();
    assert_eq!(
        vals,
        vec![Some("1".into()), Some("2".into()), None, Some("3".into())]
    );

    let (x, y, ctr): (String, Option<String>, i64) = redis::pipe()
        .set("p1", "v1")
        .ignore()
        .get("p1")
        .get("p-missing")
        .incr("counter", 10)
        .query(&mut conns[0])
        .unwrap();
    assert_eq!((x.as_str(), y, ctr), ("v1", None, 50));

    let deleted: i64 = conns[1].del(&["a", "b", "zz"]).unwrap();
    assert_eq!(deleted, 2);
    let exists: bool = conns[2].exists("a").unwrap();
    assert!(!exists);

    // An error reply surfaces as an error, and the connection stays usable.
    let e = conns[0].incr::<_, _, i64>("greeting", 1).unwrap_err();
    assert!(e.to_string().contains("not an integer"), "{e}");
    let pong: String = redis::cmd("PING").query(&mut conns[0]).unwrap();
    assert_eq!(pong, "PONG");
}
