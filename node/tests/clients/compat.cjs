// ioredis's calls, as applications make them, against one server.
//
//     NODE_PATH=target/clients/node/node_modules node compat.cjs HOST PORT
//
// Prints one JSON line per call, {"step": "<block>.<name>", "value": V},
// where V is the call's result tagged with its JavaScript type (see `tag`)
// or the error it raised, ["error", name, message]. node/tests/node_clients.rs
// runs this against redis-server and against ringlab nodes and compares the
// transcripts. The run starts with FLUSHDB, so it leaves only its own keys.
//
// CommonJS rather than an ES module: ioredis lives in target/clients/node
// (scripts/setup), outside this directory, and only require() honours
// NODE_PATH.
//
// The client is `new Redis({host, port})` with ioredis's defaults (RESP2:
// ioredis 5 speaks nothing else; a ready check with INFO on connect; CLIENT
// SETINFO sent and its errors ignored) except `retryStrategy`, which is off
// so that a server that goes away ends the run instead of reconnecting
// forever.
//
// The calls are grouped in blocks, one per command family, in the same
// order and under the same step names as compat.py's where the call is the
// same; a family is added as one more block in `blocks`. Left out because
// the node does not support them: SELECT of another database, DUMP/RESTORE,
// SORT, pub/sub, scripting.
"use strict";

const Redis = require("ioredis");

// A JSON value that keeps the JavaScript type of a result.
function tag(v) {
  if (v instanceof Error) return ["error", v.name, v.message];
  if (v === null || v === undefined) return ["nil"];
  if (typeof v === "boolean") return ["bool", v];
  if (typeof v === "number") {
    return Number.isInteger(v) ? ["int", v] : ["float", String(v)];
  }
  if (typeof v === "string") return ["str", v];
  if (Buffer.isBuffer(v)) return ["bytes", v.toString("hex")];
  if (Array.isArray(v)) return ["list", v.map(tag)];
  // Unordered results are compared sorted.
  if (v instanceof Set) return ["set", sortedBy([...v].map(tag), JSON.stringify)];
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return [
    "dict",
    sortedBy(
      entries.map(([k, x]) => [tag(k), tag(x)]),
      (p) => JSON.stringify(p[0]),
    ),
  ];
}

function sortedBy(items, key) {
  return items
    .map((x) => [key(x), x])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((p) => p[1]);
}

// A pipeline's [[error, result], ...] with each pair as one tagged value.
const piped = (pairs) => pairs.map(([err, res]) => (err ? err : res));

// CLIENT LIST's text as the objects applications make of it.
function parseClientList(text) {
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) =>
      Object.fromEntries(
        line.split(" ").map((field) => {
          const i = field.indexOf("=");
          return [field.slice(0, i), field.slice(i + 1)];
        }),
      ),
    );
}

// An INFO section's text as the fields applications read from it.
function parseInfo(text) {
  const out = {};
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const STRINGS = [
  ["set", (r) => r.set("s", "v")],
  ["get", (r) => r.get("s")],
  ["get_missing", (r) => r.get("nope")],
  ["set_nx_exists", (r) => r.set("s", "w", "NX")],
  ["set_xx_get", (r) => r.set("s", "w", "XX", "GET")],
  ["set_xx_missing", (r) => r.set("s2", "w", "XX")],
  ["set_nx_get_missing", (r) => r.set("s2", "w", "NX", "GET")],
  ["set_ex", (r) => r.set("e", "v", "EX", 100)],
  ["ttl_after_set_ex", (r) => r.ttl("e")],
  ["set_px", (r) => r.set("e", "v", "PX", 100000)],
  ["pttl_after_set_px", (r) => r.pttl("e")],
  ["set_keepttl", (r) => r.set("e", "w", "KEEPTTL")],
  ["ttl_after_keepttl", (r) => r.ttl("e")],
  ["set_exat", (r) => r.set("e", "v", "EXAT", 4000000000)],
  ["expiretime_after_exat", (r) => r.expiretime("e")],
  ["set_ex_zero", (r) => r.set("e", "v", "EX", 0)],
  ["set_int_value", (r) => r.set("i", 42)],
  ["set_float_value", (r) => r.set("fv", 1.5)],
  ["get_int_value", (r) => r.get("i")],
  ["mset", (r) => r.mset({ a: "1", b: "2" })],
  ["mget", (r) => r.mget(["a", "nope", "b"])],
  ["mget_args", (r) => r.mget("a", "b")],
  ["incr", (r) => r.incr("n")],
  ["incrby", (r) => r.incrby("n", 10)],
  ["decr", (r) => r.decr("n")],
  ["decrby", (r) => r.decrby("n", 3)],
  ["incr_not_integer", (r) => r.incr("s")],
  ["incrbyfloat", (r) => r.incrbyfloat("f", 10.5)],
  ["incrbyfloat_again", (r) => r.incrbyfloat("f", -0.25)],
  ["incrbyfloat_not_float", (r) => r.incrbyfloat("s", 1)],
  ["append", (r) => r.append("ap", "Hello")],
  ["append_again", (r) => r.append("ap", " World")],
  ["strlen", (r) => r.strlen("ap")],
  ["strlen_missing", (r) => r.strlen("nope")],
  ["getrange", (r) => r.getrange("ap", 0, 4)],
  ["getrange_negative", (r) => r.getrange("ap", -3, -1)],
  ["getrange_out_of_range", (r) => r.getrange("ap", 20, 30)],
  ["setrange", (r) => r.setrange("ap", 6, "Redis")],
  ["get_after_setrange", (r) => r.get("ap")],
  ["setrange_pads", (r) => r.setrange("sr", 3, "ab")],
  ["get_padded", (r) => r.getBuffer("sr")],
  ["getset", (r) => r.getset("s", "new")],
  ["getset_missing", (r) => r.getset("gs", "1")],
  ["getex", (r) => r.getex("s")],
  ["getex_ex", (r) => r.getex("s", "EX", 100)],
  ["ttl_after_getex", (r) => r.ttl("s")],
  ["getex_persist", (r) => r.getex("s", "PERSIST")],
  ["ttl_after_persist", (r) => r.ttl("s")],
  ["getex_missing", (r) => r.getex("nope", "EX", 10)],
  ["getdel", (r) => r.getdel("gs")],
  ["getdel_missing", (r) => r.getdel("gs")],
  ["setex", (r) => r.setex("se", 100, "v")],
  ["ttl_after_setex", (r) => r.ttl("se")],
  ["setex_zero", (r) => r.setex("se", 0, "v")],
  ["psetex", (r) => r.psetex("pse", 100000, "v")],
  ["pttl_after_psetex", (r) => r.pttl("pse")],
  ["setnx", (r) => r.setnx("nx", "1")],
  ["setnx_exists", (r) => r.setnx("nx", "2")],
  ["msetnx", (r) => r.msetnx({ m1: "1", m2: "2" })],
  ["msetnx_one_exists", (r) => r.msetnx({ m2: "x", m3: "3" })],
  ["mget_after_msetnx", (r) => r.mget("m1", "m2", "m3")],
  ["binary_value", (r) => r.set("bin", Buffer.from([0, 255, 13, 10]))],
  ["get_binary_value", (r) => r.getBuffer("bin")],
  ["strlen_binary_value", (r) => r.strlen("bin")],
];

const KEYS = [
  ["exists", (r) => r.exists("a", "b", "nope", "a")],
  ["delete", (r) => r.del("a", "nope")],
  ["unlink", (r) => r.unlink("b", "nope")],
  ["exists_after_delete", (r) => r.exists("a", "b")],
  ["set", (r) => r.set("k", "v")],
  ["expire", (r) => r.expire("k", 100)],
  ["ttl", (r) => r.ttl("k")],
  ["pexpire", (r) => r.pexpire("k", 200000)],
  ["pttl", (r) => r.pttl("k")],
  ["expire_nx", (r) => r.expire("k", 50, "NX")],
  ["expire_gt", (r) => r.expire("k", 50, "GT")],
  ["expire_lt", (r) => r.expire("k", 50, "LT")],
  ["ttl_after_lt", (r) => r.ttl("k")],
  ["persist", (r) => r.persist("k")],
  ["persist_again", (r) => r.persist("k")],
  ["ttl_persistent", (r) => r.ttl("k")],
  ["ttl_missing", (r) => r.ttl("nope")],
  ["pttl_missing", (r) => r.pttl("nope")],
  ["expire_missing", (r) => r.expire("nope", 10)],
  ["expireat", (r) => r.expireat("k", 4000000000)],
  ["expiretime", (r) => r.expiretime("k")],
  ["pexpireat", (r) => r.pexpireat("k", 4000000000123)],
  ["pexpiretime", (r) => r.pexpiretime("k")],
  ["expireat_past", (r) => r.expireat("k", 1)],
  ["exists_after_expireat_past", (r) => r.exists("k")],
  ["type_string", (r) => r.type("ap")],
  ["type_missing", (r) => r.type("nope")],
  ["rename", (r) => r.rename("ap", "ap2")],
  ["rename_missing", (r) => r.rename("nope", "x")],
  ["renamenx", (r) => r.renamenx("ap2", "ap3")],
  ["renamenx_exists", (r) => r.renamenx("ap3", "nx")],
  ["touch", (r) => r.touch("ap3", "nope", "nx")],
  ["copy", (r) => r.copy("ap3", "cp")],
  ["copy_exists", (r) => r.copy("ap3", "cp")],
  ["copy_replace", (r) => r.copy("nx", "cp", "REPLACE")],
  ["get_copy", (r) => r.get("cp")],
  ["copy_missing", (r) => r.copy("nope", "cp")],
];

const PIPELINES = [
  [
    "mixed",
    async (r) =>
      piped(
        await r
          .pipeline()
          .set("p1", "v1")
          .get("p1")
          .incr("p1")
          .get("nope")
          .mget("p1", "nope")
          .incr("pn")
          .incrby("pn", 5)
          .expire("pn", 100)
          .ttl("pn")
          .del("p1", "pn")
          .exec(),
      ),
  ],
  [
    "long",
    async (r) => {
      const p = r.pipeline();
      for (let i = 0; i < 200; i++) p.incr("pl").set(`pk${i % 7}`, i);
      p.mget([...Array(7).keys()].map((i) => `pk${i}`));
      const res = piped(await p.exec());
      // 400 results, summed up: every INCR counted in order, every SET OK.
      const incrs = res.filter((_, i) => i % 2 === 0 && i < 400);
      return [
        res.length,
        incrs.every((x, i) => x === i + 1),
        res.slice(0, 400).filter((_, i) => i % 2 === 1).every((x) => x === "OK"),
        res[400],
      ];
    },
  ],
  [
    "array_form",
    async (r) =>
      piped(
        await r
          .pipeline([
            ["set", "pa", "1"],
            ["incrby", "pa", "2"],
            ["get", "pa"],
            ["call", "nosuchcommand", "pa"],
          ])
          .exec(),
      ),
  ],
];

// ioredis's multi() is MULTI ... EXEC; its exec() gives [[error, result], ...].
const TRANSACTIONS = [
  [
    "multi_exec",
    async (r) =>
      piped(await r.multi().set("tx", "1").incr("tx").get("tx").lpush("tx", "x").exec()),
  ],
  [
    "watch",
    async (r) => {
      await r.watch("w");
      const n = Number((await r.get("w")) || 0);
      return piped(await r.multi().set("w", n + 1).exec());
    },
  ],
];

const SERVER = [
  ["ping", (r) => r.ping()],
  ["ping_message", (r) => r.ping("hi")],
  ["echo", (r) => r.echo("hello world")],
  ["dbsize", (r) => r.dbsize()],
  [
    "info_server",
    async (r) => {
      const text = await r.info("server");
      const info = parseInfo(text);
      // Values are each server's own; the fields applications read must parse.
      return [typeof text, ["redis_version", "tcp_port"].filter((k) => k in info)];
    },
  ],
  [
    "info_keyspace",
    async (r) => {
      // avg_ttl depends on when each key was written; keys and expires do not.
      const db0 = parseInfo(await r.info("keyspace")).db0 || "";
      const fields = Object.fromEntries(db0.split(",").map((f) => f.split("=")));
      return [fields.keys, fields.expires];
    },
  ],
  [
    "info",
    async (r) => {
      const text = await r.info();
      return [typeof text, "redis_version" in parseInfo(text)];
    },
  ],
  ["client_getname_unset", (r) => r.client("GETNAME")],
  ["client_setname", (r) => r.client("SETNAME", "compat")],
  ["client_getname", (r) => r.client("GETNAME")],
  ["client_id", (r) => r.client("ID")],
  ["client_list", async (r) => parseClientList(await r.client("LIST"))],
  ["config_get_maxmemory", (r) => r.config("GET", "maxmemory")],
  ["config_get_policy", (r) => r.config("GET", "maxmemory-policy")],
  ["config_get_appendonly", (r) => r.config("GET", "appendonly")],
  ["config_get_port", (r) => r.config("GET", "port")],
  ["config_get_missing", (r) => r.config("GET", "no-such-parameter")],
  ["flushdb", (r) => r.flushdb()],
  ["dbsize_after_flushdb", (r) => r.dbsize()],
  ["get_after_flushdb", (r) => r.get("nx")],
];

// Hashes, lists, sets and sorted sets, as compat.py's blocks.
const HASHES = [
  ["hset", (r) => r.hset("h", { f1: "1", f2: "2" })],
  ["hget", (r) => r.hget("h", "f1")],
  ["hget_missing", (r) => r.hget("h", "nope")],
  ["hmget", (r) => r.hmget("h", "f1", "nope", "f2")],
  ["hgetall", (r) => r.hgetall("h")],
  ["hincrby", (r) => r.hincrby("h", "f1", 5)],
  ["hincrbyfloat", (r) => r.hincrbyfloat("h", "fl", 1.5)],
  ["hexists", (r) => r.hexists("h", "f2")],
  ["hdel", (r) => r.hdel("h", "f2", "nope")],
  ["hlen", (r) => r.hlen("h")],
  ["hkeys", async (r) => (await r.hkeys("h")).sort()],
  ["hvals", async (r) => (await r.hvals("h")).sort()],
  ["hsetnx", (r) => r.hsetnx("h", "f1", "x")],
  ["hset_wrongtype", (r) => r.hset("s", "f", "v")],
  ["type_hash", (r) => r.type("h")],
];

const LISTS = [
  ["rpush", (r) => r.rpush("l", "a", "b", "c")],
  ["lpush", (r) => r.lpush("l", "z")],
  ["lrange", (r) => r.lrange("l", 0, -1)],
  ["llen", (r) => r.llen("l")],
  ["type_list", (r) => r.type("l")],
  ["lindex", (r) => r.lindex("l", 1)],
  ["lpop", (r) => r.lpop("l")],
  ["rpop_count", (r) => r.rpop("l", 2)],
  ["lset", (r) => r.lset("l", 0, "x")],
  ["lrem", (r) => r.lrem("l", 0, "x")],
  ["lpop_missing", (r) => r.lpop("nope")],
  ["lpush_wrongtype", (r) => r.lpush("s", "x")],
];

const SETS = [
  ["sadd", (r) => r.sadd("st", "a", "b", "c", "a")],
  ["smembers", async (r) => new Set(await r.smembers("st"))],
  ["sismember", (r) => r.sismember("st", "a")],
  ["scard", (r) => r.scard("st")],
  ["srem", (r) => r.srem("st", "a", "nope")],
  ["sadd_other", (r) => r.sadd("st2", "b", "x")],
  ["smembers_missing", async (r) => new Set(await r.smembers("nope"))],
  ["sadd_wrongtype", (r) => r.sadd("s", "x")],
  ["type_set", (r) => r.type("st")],
];

const ZSETS = [
  ["zadd", (r) => r.zadd("z", 1, "a", 2, "b", 3.5, "c")],
  ["zadd_nx", (r) => r.zadd("z", "NX", 9, "a")],
  ["zscore", (r) => r.zscore("z", "c")],
  ["zrange", (r) => r.zrange("z", 0, -1)],
  ["zrange_withscores", (r) => r.zrange("z", 0, -1, "WITHSCORES")],
  ["zrangebyscore", (r) => r.zrangebyscore("z", 1, 2)],
  ["zincrby", (r) => r.zincrby("z", 2, "a")],
  ["zrank", (r) => r.zrank("z", "a")],
  ["zcard", (r) => r.zcard("z")],
  ["zrem", (r) => r.zrem("z", "b", "nope")],
  ["zadd_wrongtype", (r) => r.zadd("s", 1, "x")],
  ["type_zset", (r) => r.type("z")],
];

// KEYS and SCAN (scanStream), across the cluster; SINTER over two sets.
const SCAN = [
  ["mset", (r) => r.mset({ "sc:1": "1", "sc:2": "2", other: "3" })],
  ["keys", async (r) => (await r.keys("sc:*")).sort()],
  [
    "scan_iter",
    (r) =>
      new Promise((resolve, reject) => {
        const found = [];
        r.scanStream({ match: "sc:*", count: 2 })
          .on("data", (keys) => found.push(...keys))
          .on("error", reject)
          .on("end", () => resolve(found.sort()));
      }),
  ],
  ["sadd", async (r) => [await r.sadd("sc:a", "x", "y"), await r.sadd("sc:b", "y", "z")]],
  ["sinter", async (r) => (await r.sinter("sc:a", "sc:b")).sort()],
];

function blocks() {
  const out = [
    ["strings", STRINGS],
    ["keys", KEYS],
    ["pipeline", PIPELINES],
    ["tx", TRANSACTIONS],
    ["hash", HASHES],
    ["list", LISTS],
    ["set", SETS],
    ["zset", ZSETS],
  ];
  out.push(["scan", SCAN]);
  // Last: it ends with FLUSHDB.
  out.push(["server", SERVER]);
  return out;
}

async function main() {
  const [host, port] = process.argv.slice(2);
  const r = new Redis({ host, port: Number(port), retryStrategy: () => null });
  const version = require("ioredis/package.json").version;
  console.error(`ioredis ${version} against ${host}:${port}`);
  await r.flushdb();
  for (const [block, steps] of blocks()) {
    for (const [name, call] of steps) {
      let value;
      try {
        value = await call(r);
      } catch (e) {
        value = e; // recorded, compared like any result
      }
      console.log(JSON.stringify({ step: `${block}.${name}`, value: tag(value) }));
    }
  }
  await r.quit();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
