#!/usr/bin/env python3
"""redis-py's calls, as applications make them, against one server.

    compat.py HOST PORT [default|resp2|resp3]

Prints one JSON line per call, `{"step": "<block>.<name>", "value": V}`, where
V is the call's result tagged with its Python type (see `tag`) or the
exception it raised, `["error", class name, message]`. node/tests/node_clients.rs
runs this against redis-server and against ringlab nodes and compares the
transcripts. The run starts with FLUSHDB, so it leaves only its own keys.

`default` is `redis.Redis(host, port)` as it comes (redis-py 8 speaks RESP3
by default); `resp2` and `resp3` pass `protocol=2` / `protocol=3`.

The calls are grouped in blocks, one per command family; a family is added
as one more block in BLOCKS. Left out because the node does not support
them: SELECT of another database, DUMP/RESTORE, SORT, pub/sub, scripting.
"""

import json
import os
import sys
import warnings

import redis


def tag(v):
    """A JSON value that keeps the Python type of a result: the types differ
    between RESP2 and RESP3 and are what applications see."""
    if isinstance(v, Exception):
        return ["error", type(v).__name__, str(v)]
    if v is None:
        return ["nil"]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, int):
        return ["int", v]
    if isinstance(v, float):
        return ["float", repr(v)]
    if isinstance(v, bytes):
        return ["bytes", v.decode("utf-8", "backslashreplace")]
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, (list, tuple)):
        return ["list", [tag(x) for x in v]]
    # Unordered results are compared sorted.
    if isinstance(v, (set, frozenset)):
        return ["set", sorted((tag(x) for x in v), key=json.dumps)]
    if isinstance(v, dict):
        pairs = [[tag(k), tag(x)] for k, x in v.items()]
        return ["dict", sorted(pairs, key=lambda p: json.dumps(p[0]))]
    return ["other", type(v).__name__, repr(v)]


def sorted_list(v):
    """A reply whose order is the server's own (KEYS, SCAN), sorted."""
    return sorted(v)


def pipeline_mixed(r):
    p = r.pipeline(transaction=False)
    p.set("p1", "v1").get("p1").incr("p1").get("nope").mget("p1", "nope")
    p.incr("pn").incrby("pn", 5).expire("pn", 100).ttl("pn").delete("p1", "pn")
    return p.execute(raise_on_error=False)


def pipeline_raises(r):
    p = r.pipeline(transaction=False)
    p.set("pr", "x").incr("pr").get("pr")
    return p.execute()


def pipeline_long(r):
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.incr("pl")
        p.set(f"pk{i % 7}", i)
    p.mget([f"pk{i}" for i in range(7)])
    res = p.execute()
    # 400 results, summed up: every INCR counted in order, every SET true.
    return [
        len(res),
        res[0:400:2] == list(range(1, 201)),
        all(x is True for x in res[1:400:2]),
        res[400],
    ]


def info_server(r):
    info = r.info("server")
    # Values are each server's own; the fields applications read must parse.
    return [type(info).__name__, sorted(k for k in ("redis_version", "tcp_port") if k in info)]


def info_keyspace(r):
    # avg_ttl depends on when each key was written; keys and expires do not.
    db0 = r.info("keyspace").get("db0", {})
    return [db0.get("keys"), db0.get("expires")]


def info_default(r):
    info = r.info()
    return [type(info).__name__, "redis_version" in info]


STRINGS = [
    ("set", lambda r: r.set("s", "v")),
    ("get", lambda r: r.get("s")),
    ("get_missing", lambda r: r.get("nope")),
    ("set_nx_exists", lambda r: r.set("s", "w", nx=True)),
    ("set_xx_get", lambda r: r.set("s", "w", xx=True, get=True)),
    ("set_xx_missing", lambda r: r.set("s2", "w", xx=True)),
    ("set_nx_get_missing", lambda r: r.set("s2", "w", nx=True, get=True)),
    ("set_ex", lambda r: r.set("e", "v", ex=100)),
    ("ttl_after_set_ex", lambda r: r.ttl("e")),
    ("set_px", lambda r: r.set("e", "v", px=100000)),
    ("pttl_after_set_px", lambda r: r.pttl("e")),
    ("set_keepttl", lambda r: r.set("e", "w", keepttl=True)),
    ("ttl_after_keepttl", lambda r: r.ttl("e")),
    ("set_exat", lambda r: r.set("e", "v", exat=4000000000)),
    ("expiretime_after_exat", lambda r: r.expiretime("e")),
    ("set_ex_zero", lambda r: r.set("e", "v", ex=0)),
    ("set_int_value", lambda r: r.set("i", 42)),
    ("set_float_value", lambda r: r.set("fv", 1.5)),
    ("get_int_value", lambda r: r.get("i")),
    ("mset", lambda r: r.mset({"a": "1", "b": "2"})),
    ("mget", lambda r: r.mget(["a", "nope", "b"])),
    ("mget_args", lambda r: r.mget("a", "b")),
    ("incr", lambda r: r.incr("n")),
    ("incrby", lambda r: r.incrby("n", 10)),
    ("incr_amount", lambda r: r.incr("n", 5)),
    ("decr", lambda r: r.decr("n")),
    ("decrby", lambda r: r.decrby("n", 3)),
    ("incr_not_integer", lambda r: r.incr("s")),
    ("incrbyfloat", lambda r: r.incrbyfloat("f", 10.5)),
    ("incrbyfloat_again", lambda r: r.incrbyfloat("f", -0.25)),
    ("incrbyfloat_not_float", lambda r: r.incrbyfloat("s", 1)),
    ("append", lambda r: r.append("ap", "Hello")),
    ("append_again", lambda r: r.append("ap", " World")),
    ("strlen", lambda r: r.strlen("ap")),
    ("strlen_missing", lambda r: r.strlen("nope")),
    ("getrange", lambda r: r.getrange("ap", 0, 4)),
    ("getrange_negative", lambda r: r.getrange("ap", -3, -1)),
    ("getrange_out_of_range", lambda r: r.getrange("ap", 20, 30)),
    ("setrange", lambda r: r.setrange("ap", 6, "Redis")),
    ("get_after_setrange", lambda r: r.get("ap")),
    ("setrange_pads", lambda r: r.setrange("sr", 3, "ab")),
    ("get_padded", lambda r: r.get("sr")),
    ("getset", lambda r: r.getset("s", "new")),
    ("getset_missing", lambda r: r.getset("gs", "1")),
    ("getex", lambda r: r.getex("s")),
    ("getex_ex", lambda r: r.getex("s", ex=100)),
    ("ttl_after_getex", lambda r: r.ttl("s")),
    ("getex_persist", lambda r: r.getex("s", persist=True)),
    ("ttl_after_persist", lambda r: r.ttl("s")),
    ("getex_missing", lambda r: r.getex("nope", ex=10)),
    ("getdel", lambda r: r.getdel("gs")),
    ("getdel_missing", lambda r: r.getdel("gs")),
    ("setex", lambda r: r.setex("se", 100, "v")),
    ("ttl_after_setex", lambda r: r.ttl("se")),
    ("setex_zero", lambda r: r.setex("se", 0, "v")),
    ("psetex", lambda r: r.psetex("pse", 100000, "v")),
    ("pttl_after_psetex", lambda r: r.pttl("pse")),
    ("setnx", lambda r: r.setnx("nx", "1")),
    ("setnx_exists", lambda r: r.setnx("nx", "2")),
    ("msetnx", lambda r: r.msetnx({"m1": "1", "m2": "2"})),
    ("msetnx_one_exists", lambda r: r.msetnx({"m2": "x", "m3": "3"})),
    ("mget_after_msetnx", lambda r: r.mget(["m1", "m2", "m3"])),
    ("binary_value", lambda r: r.set("bin", b"\x00\xff\r\n")),
    ("get_binary_value", lambda r: r.get("bin")),
    ("strlen_binary_value", lambda r: r.strlen("bin")),
]

KEYS = [
    ("exists", lambda r: r.exists("a", "b", "nope", "a")),
    ("delete", lambda r: r.delete("a", "nope")),
    ("unlink", lambda r: r.unlink("b", "nope")),
    ("exists_after_delete", lambda r: r.exists("a", "b")),
    ("set", lambda r: r.set("k", "v")),
    ("expire", lambda r: r.expire("k", 100)),
    ("ttl", lambda r: r.ttl("k")),
    ("pexpire", lambda r: r.pexpire("k", 200000)),
    ("pttl", lambda r: r.pttl("k")),
    ("expire_nx", lambda r: r.expire("k", 50, nx=True)),
    ("expire_gt", lambda r: r.expire("k", 50, gt=True)),
    ("expire_lt", lambda r: r.expire("k", 50, lt=True)),
    ("ttl_after_lt", lambda r: r.ttl("k")),
    ("persist", lambda r: r.persist("k")),
    ("persist_again", lambda r: r.persist("k")),
    ("ttl_persistent", lambda r: r.ttl("k")),
    ("ttl_missing", lambda r: r.ttl("nope")),
    ("pttl_missing", lambda r: r.pttl("nope")),
    ("expire_missing", lambda r: r.expire("nope", 10)),
    ("expireat", lambda r: r.expireat("k", 4000000000)),
    ("expiretime", lambda r: r.expiretime("k")),
    ("pexpireat", lambda r: r.pexpireat("k", 4000000000123)),
    ("pexpiretime", lambda r: r.pexpiretime("k")),
    ("expireat_past", lambda r: r.expireat("k", 1)),
    ("exists_after_expireat_past", lambda r: r.exists("k")),
    ("type_string", lambda r: r.type("ap")),
    ("type_missing", lambda r: r.type("nope")),
    ("rename", lambda r: r.rename("ap", "ap2")),
    ("rename_missing", lambda r: r.rename("nope", "x")),
    ("renamenx", lambda r: r.renamenx("ap2", "ap3")),
    ("renamenx_exists", lambda r: r.renamenx("ap3", "nx")),
    ("touch", lambda r: r.touch("ap3", "nope", "nx")),
    ("copy", lambda r: r.copy("ap3", "cp")),
    ("copy_exists", lambda r: r.copy("ap3", "cp")),
    ("copy_replace", lambda r: r.copy("nx", "cp", replace=True)),
    ("get_copy", lambda r: r.get("cp")),
    ("copy_missing", lambda r: r.copy("nope", "cp")),
]

PIPELINES = [
    ("mixed", pipeline_mixed),
    ("raises", pipeline_raises),
    ("long", pipeline_long),
]


def tx_plain(r):
    """redis-py's default pipeline is a MULTI/EXEC transaction."""
    p = r.pipeline()
    p.set("tx", "1").incr("tx").get("tx").lpush("tx", "x")
    return p.execute(raise_on_error=False)


def tx_watch(r):
    """WATCH, read, then a transaction on what was read."""
    with r.pipeline() as p:
        p.watch("w")
        n = int(p.get("w") or 0)
        p.multi()
        p.set("w", n + 1)
        return p.execute()


def tx_watch_conflict(r):
    """Another connection writes the watched key before EXEC."""
    with r.pipeline() as p:
        p.watch("w")
        p.multi()
        p.set("w", "mine")
        r.set("w", "theirs")
        try:
            return p.execute()
        except redis.WatchError as e:
            return e


TRANSACTIONS = [
    ("multi_exec", tx_plain),
    ("watch", tx_watch),
    ("watch_conflict", tx_watch_conflict),
    ("after_conflict", lambda r: r.get("w")),
]

SERVER = [
    ("ping", lambda r: r.ping()),
    ("echo", lambda r: r.echo("hello world")),
    ("dbsize", lambda r: r.dbsize()),
    ("info_server", info_server),
    ("info_keyspace", info_keyspace),
    ("info", info_default),
    ("client_getname_unset", lambda r: r.client_getname()),
    ("client_setname", lambda r: r.client_setname("compat")),
    ("client_getname", lambda r: r.client_getname()),
    ("client_id", lambda r: r.client_id()),
    ("client_list", lambda r: r.client_list()),
    ("config_get_maxmemory", lambda r: r.config_get("maxmemory")),
    ("config_get_policy", lambda r: r.config_get("maxmemory-policy")),
    ("config_get_appendonly", lambda r: r.config_get("appendonly")),
    ("config_get_port", lambda r: r.config_get("port")),
    ("config_get_missing", lambda r: r.config_get("no-such-parameter")),
    ("flushdb", lambda r: r.flushdb()),
    ("dbsize_after_flushdb", lambda r: r.dbsize()),
    ("get_after_flushdb", lambda r: r.get("nx")),
]

HASHES = [
    ("hset", lambda r: r.hset("h", mapping={"f1": "1", "f2": "2"})),
    ("hget", lambda r: r.hget("h", "f1")),
    ("hget_missing", lambda r: r.hget("h", "nope")),
    ("hmget", lambda r: r.hmget("h", ["f1", "nope", "f2"])),
    ("hgetall", lambda r: r.hgetall("h")),
    ("hincrby", lambda r: r.hincrby("h", "f1", 5)),
    ("hincrbyfloat", lambda r: r.hincrbyfloat("h", "fl", 1.5)),
    ("hexists", lambda r: r.hexists("h", "f2")),
    ("hdel", lambda r: r.hdel("h", "f2", "nope")),
    ("hlen", lambda r: r.hlen("h")),
    ("hkeys", lambda r: sorted_list(r.hkeys("h"))),
    ("hvals", lambda r: sorted_list(r.hvals("h"))),
    ("hsetnx", lambda r: r.hsetnx("h", "f1", "x")),
    ("hset_wrongtype", lambda r: r.hset("s", "f", "v")),
    ("type_hash", lambda r: r.type("h")),
]

LISTS = [
    ("rpush", lambda r: r.rpush("l", "a", "b", "c")),
    ("lpush", lambda r: r.lpush("l", "z")),
    ("lrange", lambda r: r.lrange("l", 0, -1)),
    ("llen", lambda r: r.llen("l")),
    ("type_list", lambda r: r.type("l")),
    ("lindex", lambda r: r.lindex("l", 1)),
    ("lpop", lambda r: r.lpop("l")),
    ("rpop_count", lambda r: r.rpop("l", 2)),
    ("lset", lambda r: r.lset("l", 0, "x")),
    ("lrem", lambda r: r.lrem("l", 0, "x")),
    ("lpop_missing", lambda r: r.lpop("nope")),
    ("lpush_wrongtype", lambda r: r.lpush("s", "x")),
]

SETS = [
    ("sadd", lambda r: r.sadd("st", "a", "b", "c", "a")),
    ("smembers", lambda r: r.smembers("st")),
    ("sismember", lambda r: r.sismember("st", "a")),
    ("scard", lambda r: r.scard("st")),
    ("srem", lambda r: r.srem("st", "a", "nope")),
    ("sadd_other", lambda r: r.sadd("st2", "b", "x")),
    ("smembers_missing", lambda r: r.smembers("nope")),
    ("sadd_wrongtype", lambda r: r.sadd("s", "x")),
    ("type_set", lambda r: r.type("st")),
]

ZSETS = [
    ("zadd", lambda r: r.zadd("z", {"a": 1, "b": 2, "c": 3.5})),
    ("zadd_nx", lambda r: r.zadd("z", {"a": 9}, nx=True)),
    ("zscore", lambda r: r.zscore("z", "c")),
    ("zrange", lambda r: r.zrange("z", 0, -1)),
    ("zrange_withscores", lambda r: r.zrange("z", 0, -1, withscores=True)),
    ("zrangebyscore", lambda r: r.zrangebyscore("z", 1, 2)),
    ("zincrby", lambda r: r.zincrby("z", 2, "a")),
    ("zrank", lambda r: r.zrank("z", "a")),
    ("zcard", lambda r: r.zcard("z")),
    ("zrem", lambda r: r.zrem("z", "b", "nope")),
    ("zadd_wrongtype", lambda r: r.zadd("s", {"x": 1})),
    ("type_zset", lambda r: r.type("z")),
]

# KEYS and SCAN, across the cluster; SINTER over two sets.
SCAN = [
    ("mset", lambda r: r.mset({"sc:1": "1", "sc:2": "2", "other": "3"})),
    ("keys", lambda r: sorted_list(r.keys("sc:*"))),
    ("scan_iter", lambda r: sorted_list(r.scan_iter(match="sc:*", count=2))),
    ("sadd", lambda r: [r.sadd("sc:a", "x", "y"), r.sadd("sc:b", "y", "z")]),
    ("sinter", lambda r: r.sinter("sc:a", "sc:b")),
]


def blocks():
    out = [("strings", STRINGS), ("keys", KEYS), ("pipeline", PIPELINES)]
    out += [("tx", TRANSACTIONS)]
    out += [("hash", HASHES), ("list", LISTS), ("set", SETS), ("zset", ZSETS)]
    out += [("scan", SCAN)]
    # Last: it ends with FLUSHDB.
    out.append(("server", SERVER))
    return out


def main():
    # setex, psetex, getset... are deprecated in redis-py but still in use.
    warnings.simplefilter("ignore", DeprecationWarning)
    host, port = sys.argv[1], int(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "default"
    kwargs = {"default": {}, "resp2": {"protocol": 2}, "resp3": {"protocol": 3}}[mode]
    r = redis.Redis(host=host, port=port, **kwargs)
    print(f"redis-py {redis.__version__} {mode} against {host}:{port}", file=sys.stderr)
    r.flushdb()
    for block, steps in blocks():
        for name, call in steps:
            try:
                value = call(r)
            except Exception as e:  # recorded, compared like any result
                value = e
            print(json.dumps({"step": f"{block}.{name}", "value": tag(value)}))
    r.close()


if __name__ == "__main__":
    main()
