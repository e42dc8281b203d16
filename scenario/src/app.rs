//! Reading `[app]` and `[database]`: how the client machines, standing for
//! the application servers, use the cache and the simulated database behind
//! it.
//!
//! `[app]` is optional and defaults to `pattern = "direct"` (requests go to
//! the cache only, as before these sections existed). Any other pattern
//! needs a `[database]`; a `[database]` without such a pattern is refused,
//! since nothing would ever query it.

use super::cluster::cost_dist;
use super::model::{App, DatabaseSpec, NearCacheSpec, OnWrite, Pattern};
use super::reader::{
    Ctx, Field, Span, Table, Value, boolean, positive_duration, string, uint, uint32,
};

/// Largest near-cache a client machine may keep, in keys.
const MAX_NEAR_KEYS: u64 = 10_000_000;

/// Reads `[app]` and `[database]` together (each constrains the other).
pub(super) fn read_app(
    ctx: &mut Ctx<'_>,
    app: Option<&Value<'_>>,
    database: Option<&Value<'_>>,
) -> (App, Option<DatabaseSpec>) {
    let (out, pattern_span) = match app {
        Some(v) => read_app_table(ctx, v),
        None => (App::default(), None),
    };
    let db = database.and_then(|v| read_database(ctx, v));
    check_database_matches_pattern(ctx, &out, pattern_span, database);
    (out, db)
}

/// `[app]` itself, and the span of its table (where a missing `[database]`
/// is reported).
fn read_app_table(ctx: &mut Ctx<'_>, v: &Value<'_>) -> (App, Option<Span>) {
    let mut out = App::default();
    let known = ["pattern", "on_write", "fill_ttl", "coalesce", "near_cache"];
    let Some(t) = Table::open(ctx, "app", v, &known, "a table [app]") else {
        return (out, None);
    };
    out.pattern = t.field(ctx, "pattern", pattern).or(Pattern::Direct);
    out.on_write = t.field(ctx, "on_write", on_write).or(OnWrite::Delete);
    out.fill_ttl = t.field(ctx, "fill_ttl", positive_duration).valid();
    out.coalesce = t.field(ctx, "coalesce", boolean).or(false);
    out.near_cache = match t.field(ctx, "near_cache", near_cache) {
        Field::Valid(n) => Some(n),
        Field::Absent | Field::Invalid => None,
    };
    check_keys_fit_pattern(ctx, &t, out.pattern);
    (out, Some(t.span.clone()))
}

/// `app.pattern`: `"direct"`, `"cache-aside"` or `"write-through"`.
fn pattern(c: &mut Ctx<'_>, p: &str, v: &Value<'_>) -> Option<Pattern> {
    let name = string(c, p, v)?;
    let found = Pattern::from_name(name);
    if found.is_none() {
        c.invalid(
            p,
            v,
            "is not a pattern: expected \"direct\" (the cache only), \
             \"cache-aside\" (read the database on a miss, then fill) or \
             \"write-through\" (writes go to the database and the cache)",
        );
    }
    found
}

/// `app.on_write`: `"delete"` or `"update"`.
fn on_write(c: &mut Ctx<'_>, p: &str, v: &Value<'_>) -> Option<OnWrite> {
    let name = string(c, p, v)?;
    let found = OnWrite::from_name(name);
    if found.is_none() {
        c.invalid(
            p,
            v,
            "is not a write policy: expected \"delete\" (invalidate the \
             cached copy) or \"update\" (write the new value into the cache)",
        );
    }
    found
}

/// Refuses `[app]` keys the pattern has no use for.
fn check_keys_fit_pattern(ctx: &mut Ctx<'_>, t: &Table<'_, '_>, pattern: Pattern) {
    if pattern == Pattern::Direct {
        for key in ["on_write", "fill_ttl", "coalesce", "near_cache"] {
            if let Some(v) = t.get(key) {
                ctx.invalid(
                    &t.path_of(key),
                    v,
                    "needs a database: set app.pattern = \"cache-aside\" or \
                     \"write-through\" (with \"direct\" the clients only talk to \
                     the cache, so there is nothing to fill or coalesce)",
                );
            }
        }
    }
    if pattern == Pattern::WriteThrough
        && let Some(v) = t.get("on_write")
    {
        ctx.invalid(
            "app.on_write",
            v,
            "only applies to \"cache-aside\": write-through always writes the \
             new value into the cache with the database",
        );
    }
}

/// A `[database]` exactly when the pattern queries one.
fn check_database_matches_pattern(
    ctx: &mut Ctx<'_>,
    app: &App,
    pattern_span: Option<Span>,
    database: Option<&Value<'_>>,
) {
    match (app.pattern, database) {
        (Pattern::Direct, Some(v)) => {
            ctx.error(
                &v.span(),
                "[database] is given but app.pattern is \"direct\" (the default), so no \
                 client would ever query it: add [app] with pattern = \"cache-aside\" or \
                 \"write-through\", or remove [database]",
            );
        }
        (Pattern::CacheAside | Pattern::WriteThrough, None) => {
            let span = pattern_span.unwrap_or(0..0);
            ctx.error(
                &span,
                format!(
                    "app.pattern = \"{}\" needs a [database]: add one with latency, \
                     concurrency and queue_limit, like [database] latency = \
                     {{ median = \"2ms\", sigma = 0.5 }}, concurrency = 32, queue_limit = 256",
                    app.pattern.as_str()
                ),
            );
        }
        _ => {}
    }
}

/// `{ keys = 100, ttl = "1s" }`.
fn near_cache(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<NearCacheSpec> {
    let shape = "{ keys = 100, ttl = \"1s\" }";
    let t = Table::open(ctx, path, v, &["keys", "ttl"], shape)?;
    let keys = t.field(ctx, "keys", |c, p, v| uint(c, p, v, 1, MAX_NEAR_KEYS));
    let ttl = t.field(ctx, "ttl", positive_duration);
    if !t.has("keys") {
        t.missing(ctx, "keys", "how many keys the near-cache holds, like 100");
    }
    if !t.has("ttl") {
        t.missing(
            ctx,
            "ttl",
            "how long a near-cached value may be served, like \"1s\"",
        );
    }
    Some(NearCacheSpec {
        keys: keys.valid()?,
        ttl: ttl.valid()?,
    })
}

/// Reads `[database]`.
fn read_database(ctx: &mut Ctx<'_>, v: &Value<'_>) -> Option<DatabaseSpec> {
    let known = ["latency", "concurrency", "queue_limit", "timeout"];
    let t = Table::open(ctx, "database", v, &known, "a table [database]")?;
    let latency = t.field(ctx, "latency", cost_dist);
    let concurrency = t.field(ctx, "concurrency", |c, p, v| uint32(c, p, v, 1, 1_000_000));
    let queue_limit = t.field(ctx, "queue_limit", |c, p, v| {
        uint32(c, p, v, 0, 100_000_000)
    });
    let timeout = t.field(ctx, "timeout", positive_duration);
    for (key, what) in [
        (
            "latency",
            "the time one query takes, like \"2ms\" or { median = \"2ms\", sigma = 0.5 }",
        ),
        ("concurrency", "queries served at once, like 32"),
        (
            "queue_limit",
            "queries that may wait for a free slot, like 256 (one more is refused)",
        ),
    ] {
        if !t.has(key) {
            t.missing(ctx, key, what);
        }
    }
    Some(DatabaseSpec {
        latency: latency.valid()?,
        concurrency: concurrency.valid()?,
        queue_limit: queue_limit.valid()?,
        timeout: match timeout {
            Field::Valid(d) => Some(d),
            Field::Absent => None,
            Field::Invalid => return None,
        },
    })
}
