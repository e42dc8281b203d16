//! Reading `[[fault]]`: the fault timeline, checked as a story (a node is
//! killed before it restarts, a link is cut before it is restored, a node
//! that joins is left alone until it does, every fault happens while the
//! load runs).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::cluster::{endpoint, latency_dist, node_ref};
use super::model::{Fault, FaultAction, node_name};
use super::reader::{Ctx, Field, Span, Table, Value, boolean, duration, number, probability};
use super::units::{format_duration, parse_signed_duration};

const ACTIONS: [&str; 15] = [
    "kill",
    "restart",
    "partition",
    "heal",
    "cut",
    "restore",
    "slow",
    "latency",
    "loss",
    "join",
    "skew",
    "leave",
    "remove",
    "pause",
    "resume",
];

/// A fault read from the file, with the spans its timeline checks point at.
struct Read {
    /// The validated fault.
    fault: Fault,
    /// The action's value, which timeline problems point at.
    span: Span,
    /// 1-based index in the file, for messages.
    index: usize,
    /// The nodes the action names itself (a partition's implied rest group
    /// excluded).
    named: Vec<String>,
}

/// Every node name written in an action's value (strings, in arrays and
/// tables at any depth).
fn names_in(v: &toml::de::DeValue<'_>, out: &mut Vec<String>) {
    use toml::de::DeValue;
    match v {
        DeValue::String(s) if s.starts_with("node-") => out.push(s.to_string()),
        DeValue::Array(items) => items.iter().for_each(|i| names_in(i.get_ref(), out)),
        DeValue::Table(t) => t.values().for_each(|i| names_in(i.get_ref(), out)),
        _ => {}
    }
}

/// Reads every `[[fault]]`, checks each against the cluster (`nodes`, and
/// replication `n` against the members before any join) and the run's
/// length (`run`), then checks the timeline. Faults come out
/// sorted by time (stable: same-time faults keep file order).
pub(super) fn read_faults(
    ctx: &mut Ctx<'_>,
    v: Option<&Value<'_>>,
    nodes: Option<u32>,
    n: u32,
    run: Option<Duration>,
) -> Vec<Fault> {
    let Some(v) = v else {
        return Vec::new();
    };
    let Some(items) = v.get_ref().as_array() else {
        ctx.wrong_type("fault", v, "an array of tables, written [[fault]]");
        return Vec::new();
    };
    let mut known = vec!["at"];
    known.extend(ACTIONS);
    let mut read = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("fault[{}]", i + 1);
        let Some(t) = Table::open(ctx, &path, item, &known, "a table, written [[fault]]") else {
            continue;
        };
        let at = match t.field(ctx, "at", duration) {
            Field::Absent => {
                t.missing(
                    ctx,
                    "at",
                    "when the fault happens, since the run started, like \"15s\"",
                );
                None
            }
            Field::Invalid => None,
            Field::Valid(at) => {
                let late = run.filter(|&run| at >= run);
                if let (Some(run), Some(av)) = (late, t.get("at")) {
                    ctx.invalid(
                        &t.path_of("at"),
                        av,
                        format!("is after the run ends: the phases last {} in all, so a fault must come before {}", format_duration(run), format_duration(run)),
                    );
                    None
                } else {
                    Some(at)
                }
            }
        };
        let given: Vec<&str> = ACTIONS.iter().copied().filter(|a| t.has(a)).collect();
        let action = match given.as_slice() {
            [] => {
                ctx.error(
                    &t.span,
                    format!(
                        "{path} has no action: expected one of {}",
                        ACTIONS.join(", ")
                    ),
                );
                None
            }
            [one] => {
                let av = t.get(one).expect("listed as given");
                read_action(ctx, &t.path_of(one), one, av, nodes).map(|a| (a, av.span()))
            }
            [first, second, ..] => {
                let sv = t.get(second).expect("listed as given");
                ctx.error(
                    &sv.span(),
                    format!("{path} has two actions, `{first}` and `{second}`: write one [[fault]] per action (they may share the same `at`)"),
                );
                None
            }
        };
        if let (Some(at), Some((action, span))) = (at, action) {
            let mut named = Vec::new();
            if let Some(av) = given.first().and_then(|a| t.get(a)) {
                names_in(av.get_ref(), &mut named);
            }
            read.push(Read {
                fault: Fault { at, action },
                span,
                index: i + 1,
                named,
            });
        }
    }
    read.sort_by_key(|r| r.fault.at);
    check_timeline(ctx, &read);
    check_joins(ctx, &read, nodes, n);
    check_departures(ctx, &read);
    check_pauses(ctx, &read);
    read.into_iter().map(|r| r.fault).collect()
}

fn read_action(
    ctx: &mut Ctx<'_>,
    path: &str,
    action: &str,
    v: &Value<'_>,
    nodes: Option<u32>,
) -> Option<FaultAction> {
    match action {
        "kill" => node_ref(ctx, path, v, nodes).map(FaultAction::Kill),
        "restart" => node_ref(ctx, path, v, nodes).map(FaultAction::Restart),
        "heal" => {
            if boolean(ctx, path, v)? {
                Some(FaultAction::Heal)
            } else {
                ctx.invalid(
                    path,
                    v,
                    "does nothing: write heal = true, or remove the fault",
                );
                None
            }
        }
        "partition" => partition(ctx, path, v, nodes).map(FaultAction::Partition),
        "cut" | "restore" => {
            let t = Table::open(
                ctx,
                path,
                v,
                &["from", "to"],
                "{ from = \"node-1\", to = \"node-2\" }",
            )?;
            let from = endpoint(ctx, &t, "from", nodes);
            let to = endpoint(ctx, &t, "to", nodes);
            let (from, to) = (from?, to?);
            if from == to {
                ctx.invalid(
                    path,
                    v,
                    format!("is impossible: from and to are both {from}"),
                );
                return None;
            }
            Some(if action == "cut" {
                FaultAction::CutLink { from, to }
            } else {
                FaultAction::RestoreLink { from, to }
            })
        }
        "slow" => {
            let t = Table::open(
                ctx,
                path,
                v,
                &["node", "factor"],
                "{ node = \"node-2\", factor = 4 }",
            )?;
            let node = endpoint(ctx, &t, "node", nodes);
            let factor = match t.field(ctx, "factor", |c, p, v| {
                let f = number(
                    c,
                    p,
                    v,
                    "a factor above 0, like 4 (4x slower) or 1 (normal)",
                )?;
                if f <= 0.0 {
                    c.invalid(
                        p,
                        v,
                        "is impossible: a slowdown factor must be above 0 (1 is normal speed)",
                    );
                    return None;
                }
                Some(f)
            }) {
                Field::Absent => {
                    t.missing(ctx, "factor", "how many times slower, like 4");
                    None
                }
                f => f.valid(),
            };
            Some(FaultAction::Slow {
                node: node?,
                factor: factor?,
            })
        }
        "join" => node_ref(ctx, path, v, nodes).map(FaultAction::Join),
        "skew" => skew(ctx, path, v, nodes),
        "leave" => node_ref(ctx, path, v, nodes).map(FaultAction::Leave),
        "remove" => node_ref(ctx, path, v, nodes).map(FaultAction::Remove),
        "pause" => node_ref(ctx, path, v, nodes).map(FaultAction::Pause),
        "resume" => node_ref(ctx, path, v, nodes).map(FaultAction::Resume),
        "latency" => latency_dist(ctx, path, v).map(FaultAction::SetLatency),
        "loss" => probability(ctx, path, v).map(FaultAction::SetLoss),
        _ => unreachable!("only listed actions are read"),
    }
}

/// The largest clock offset a skew may set: far beyond any NTP-synced
/// clock, and small enough that a clock never reads before the epoch.
const MAX_OFFSET: Duration = Duration::from_secs(24 * 3600);
/// The largest drift, in ppm (10%): quartz drifts by tens of ppm.
const MAX_DRIFT_PPM: i32 = 100_000;

/// `skew = { node = "node-2", offset = "-50ms", drift = "-500ppm" }`.
fn skew(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>, nodes: Option<u32>) -> Option<FaultAction> {
    let t = Table::open(
        ctx,
        path,
        v,
        &["node", "offset", "drift"],
        "{ node = \"node-2\", offset = \"-50ms\" }",
    )?;
    let node = endpoint(ctx, &t, "node", nodes);
    let offset = match t.field(ctx, "offset", offset_us) {
        Field::Absent => {
            t.missing(
                ctx,
                "offset",
                "the clock's offset from model time, like \"-50ms\" (behind) or \"0ms\" (in step)",
            );
            None
        }
        f => f.valid(),
    };
    let drift = match t.field(ctx, "drift", drift_ppm) {
        Field::Absent => Some(0),
        f => f.valid(),
    };
    Some(FaultAction::Skew {
        node: node?,
        offset_us: offset?,
        drift_ppm: drift?,
    })
}

/// A clock offset: a signed duration, whole microseconds (the model clock's
/// tick), at most [`MAX_OFFSET`] either way.
fn offset_us(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<i64> {
    let expected = "a signed duration, like \"-50ms\" or \"+2ms\"";
    let toml::de::DeValue::String(s) = v.get_ref() else {
        ctx.wrong_type(path, v, expected);
        return None;
    };
    let (neg, d) = match parse_signed_duration(s) {
        Ok(x) => x,
        Err(e) => {
            ctx.invalid(path, v, format!("is not {expected}: {e}"));
            return None;
        }
    };
    if d > MAX_OFFSET {
        let max = format_duration(MAX_OFFSET);
        ctx.invalid(path, v, format!("is too large: at most {max} either way"));
        return None;
    }
    if d.subsec_nanos() % 1000 != 0 {
        ctx.invalid(
            path,
            v,
            "is not a whole number of microseconds (the model clock's tick)",
        );
        return None;
    }
    let us = d.as_micros() as i64; // at most a day: fits
    Some(if neg { -us } else { us })
}

/// A clock drift: `"-500ppm"` (slow) or `"+20ppm"` (fast), a whole number of
/// parts per million, at most [`MAX_DRIFT_PPM`] either way.
fn drift_ppm(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<i32> {
    let expected = "a drift in parts per million, like \"-500ppm\" (slow) or \"+20ppm\" (fast)";
    let toml::de::DeValue::String(s) = v.get_ref() else {
        ctx.wrong_type(path, v, expected);
        return None;
    };
    let Some(num) = s.trim().strip_suffix("ppm") else {
        ctx.invalid(
            path,
            v,
            format!("is not {expected}: the unit `ppm` is required"),
        );
        return None;
    };
    let num = num.trim_end().strip_prefix('+').unwrap_or(num.trim_end());
    match num.parse::<i32>() {
        Ok(p) if p.abs() <= MAX_DRIFT_PPM => Some(p),
        Ok(_) => {
            ctx.invalid(
                path,
                v,
                format!("is too large: at most {MAX_DRIFT_PPM}ppm (10%) either way"),
            );
            None
        }
        Err(_) => {
            ctx.invalid(
                path,
                v,
                format!("is not {expected}: a whole number before `ppm`"),
            );
            None
        }
    }
}

/// `partition = [["node-1", "node-2"], ["node-3"]]`. Nodes not named form
/// one more group together; the result names every node exactly once.
fn partition(
    ctx: &mut Ctx<'_>,
    path: &str,
    v: &Value<'_>,
    nodes: Option<u32>,
) -> Option<Vec<Vec<String>>> {
    let expected = "groups of nodes, like [[\"node-1\", \"node-2\"], [\"node-3\"]]";
    let Some(groups) = v.get_ref().as_array() else {
        ctx.wrong_type(path, v, expected);
        return None;
    };
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut ok = true;
    for (g, group) in groups.iter().enumerate() {
        let gpath = format!("{path}[{}]", g + 1);
        let Some(members) = group.get_ref().as_array() else {
            ctx.wrong_type(
                &gpath,
                group,
                "a group: an array of node names, like [\"node-1\", \"node-2\"]",
            );
            ok = false;
            continue;
        };
        if members.is_empty() {
            ctx.invalid(
                &gpath,
                group,
                "is an empty group: every group needs at least one node",
            );
            ok = false;
        }
        let mut names = Vec::new();
        for m in members.iter() {
            match node_ref(ctx, &gpath, m, nodes) {
                Some(name) if !seen.insert(name.clone()) => {
                    ctx.invalid(
                        &gpath,
                        m,
                        format!("puts {name} in two groups: a node is in one group only"),
                    );
                    ok = false;
                }
                Some(name) => names.push(name),
                None => ok = false,
            }
        }
        out.push(names);
    }
    if !ok {
        return None;
    }
    if let Some(n) = nodes {
        let rest: Vec<String> = (1..=n)
            .map(node_name)
            .filter(|x| !seen.contains(x))
            .collect();
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    if out.len() < 2 {
        ctx.invalid(path, v, "is not a partition: it leaves every node in one group; name the group(s) to cut off, like [[\"node-1\"]]");
        return None;
    }
    Some(out)
}

/// Walks the timeline in time order, checking that each fault makes sense
/// given the ones before it.
fn check_timeline(ctx: &mut Ctx<'_>, faults: &[Read]) {
    // Node -> (time killed, fault index): who is down now.
    let mut dead: BTreeMap<&str, (Duration, usize)> = BTreeMap::new();
    // Nodes that were ever killed, so a second restart can be told apart
    // from a restart of a node that never died.
    let mut ever_killed: BTreeSet<&str> = BTreeSet::new();
    let mut cut: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut partitioned = false;
    for r in faults {
        let at = format_duration(r.fault.at);
        let path = format!("fault[{}]", r.index);
        match &r.fault.action {
            FaultAction::Kill(n) => {
                if let Some((when, i)) = dead.get(n.as_str()) {
                    ctx.error(
                        &r.span,
                        format!("{path}: {n} is already dead at {at} (fault[{i}] killed it at {}); restart it first", format_duration(*when)),
                    );
                } else {
                    dead.insert(n, (r.fault.at, r.index));
                    ever_killed.insert(n);
                }
            }
            FaultAction::Restart(n) => {
                if dead.remove(n.as_str()).is_none() {
                    let why = if ever_killed.contains(n.as_str()) {
                        format!("{n} is already running at {at} (it was restarted earlier)")
                    } else {
                        format!("{n} was never killed before {at}")
                    };
                    ctx.error(&r.span, format!("{path}: cannot restart: {why}; add a [[fault]] with kill = \"{n}\" before it"));
                }
            }
            FaultAction::Partition(_) => partitioned = true,
            FaultAction::Heal => {
                if !partitioned && cut.is_empty() {
                    ctx.error(
                        &r.span,
                        format!(
                            "{path}: nothing to heal at {at}: no partition or cut link is in effect"
                        ),
                    );
                }
                partitioned = false;
                cut.clear();
            }
            FaultAction::CutLink { from, to } => {
                if !cut.insert((from, to)) {
                    ctx.error(
                        &r.span,
                        format!("{path}: the link {from} -> {to} is already cut at {at}"),
                    );
                }
            }
            FaultAction::RestoreLink { from, to } => {
                if !cut.remove(&(from.as_str(), to.as_str())) {
                    ctx.error(
                        &r.span,
                        format!("{path}: cannot restore {from} -> {to}: it is not cut at {at}"),
                    );
                }
            }
            FaultAction::Slow { .. }
            | FaultAction::SetLatency(_)
            | FaultAction::SetLoss(_)
            | FaultAction::Join(_)
            | FaultAction::Skew { .. }
            | FaultAction::Leave(_)
            | FaultAction::Remove(_)
            | FaultAction::Pause(_)
            | FaultAction::Resume(_) => {}
        }
    }
}

/// Checks pauses: a node is paused while it runs and not already paused,
/// resumed only while paused, and no other fault names it in between, nor
/// changes the membership (a stopped process cannot be killed, slowed or
/// told of a member in any way the engines would agree on).
fn check_pauses(ctx: &mut Ctx<'_>, faults: &[Read]) {
    let mut dead: BTreeSet<&str> = BTreeSet::new();
    // Node -> (time paused, fault index).
    let mut paused: BTreeMap<&str, (Duration, usize)> = BTreeMap::new();
    for r in faults {
        let path = format!("fault[{}]", r.index);
        let at = format_duration(r.fault.at);
        match &r.fault.action {
            FaultAction::Pause(n) if dead.contains(n.as_str()) => ctx.error(
                &r.span,
                format!("{path}: {n} is dead at {at}: only a running node can be paused; restart it first"),
            ),
            FaultAction::Pause(n) if !paused.contains_key(n.as_str()) => {
                paused.insert(n, (r.fault.at, r.index));
                continue;
            }
            FaultAction::Resume(n) => {
                if paused.remove(n.as_str()).is_none() {
                    ctx.error(
                        &r.span,
                        format!("{path}: cannot resume {n}: it is not paused at {at}; add a [[fault]] with pause = \"{n}\" before it"),
                    );
                }
                continue;
            }
            FaultAction::Kill(n) => {
                dead.insert(n);
            }
            FaultAction::Restart(n) => {
                dead.remove(n.as_str());
            }
            FaultAction::Join(_) | FaultAction::Leave(_) | FaultAction::Remove(_) => {
                if let Some((n, (when, i))) = paused.iter().next() {
                    ctx.error(
                        &r.span,
                        format!("{path}: the membership changes at {at} while {n} is paused (fault[{i}] paused it at {}); every member takes part in a change: resume it first", format_duration(*when)),
                    );
                }
            }
            _ => {}
        }
        for name in &r.named {
            if let Some((when, i)) = paused.get(name.as_str()) {
                ctx.error(
                    &r.span,
                    format!("{path}: {name} is paused at {at} (fault[{i}] paused it at {}); resume it first", format_duration(*when)),
                );
            }
        }
    }
}

/// Checks the joins: a node joins once; before it joins no other fault
/// names it (it is not running) and no partition is in effect when it
/// joins (it would belong to no group); enough nodes are members from the
/// start for N replicas.
fn check_joins(ctx: &mut Ctx<'_>, faults: &[Read], nodes: Option<u32>, n: u32) {
    // Node -> (join time, fault index).
    let mut joins: BTreeMap<&str, (Duration, usize)> = BTreeMap::new();
    for r in faults {
        let FaultAction::Join(node) = &r.fault.action else {
            continue;
        };
        let path = format!("fault[{}]", r.index);
        if let Some((when, i)) = joins.get(node.as_str()) {
            ctx.error(
                &r.span,
                format!(
                    "{path}: {node} already joins at {} (fault[{i}]); a node joins once",
                    format_duration(*when)
                ),
            );
        } else {
            joins.insert(node, (r.fault.at, r.index));
        }
    }
    if joins.is_empty() {
        return;
    }
    let mut partition: Option<usize> = None;
    for r in faults {
        let path = format!("fault[{}]", r.index);
        let at = format_duration(r.fault.at);
        match &r.fault.action {
            FaultAction::Partition(_) => partition = Some(r.index),
            FaultAction::Heal => partition = None,
            FaultAction::Join(node) => {
                if let Some(p) = partition {
                    ctx.error(
                        &r.span,
                        format!("{path}: {node} joins at {at} while the partition of fault[{p}] is in effect; a joining node belongs to no group: heal first, or join before the partition"),
                    );
                }
                continue;
            }
            _ => {}
        }
        for name in &r.named {
            if let Some((when, i)) = joins
                .get(name.as_str())
                .filter(|(when, _)| r.fault.at <= *when)
            {
                ctx.error(
                    &r.span,
                    format!("{path}: {name} is not running at {at}: it joins the cluster at {} (fault[{i}]); a fault can name it only after it joins", format_duration(*when)),
                );
            }
        }
    }
    let Some(nodes) = nodes else {
        return;
    };
    let first = faults
        .iter()
        .find(|r| matches!(r.fault.action, FaultAction::Join(_)))
        .expect("joins is not empty");
    let initial = nodes.saturating_sub(joins.len() as u32);
    if initial == 0 {
        ctx.error(
            &first.span,
            format!("fault[{}]: every node of the cluster joins later, so nothing serves at the start: keep at least one of the {nodes} nodes out of the joins", first.index),
        );
    } else if n > initial {
        ctx.error(
            &first.span,
            format!("fault[{}]: only {initial} of the {nodes} nodes are members before the joins, fewer than replication N = {n}: raise cluster.nodes or lower N", first.index),
        );
    }
}

/// Checks leaves and removals: a node leaves while it runs, a removed node
/// is dead (killed and not restarted: `remove` forgets a dead node, a live
/// one leaves), each node goes once, and no later fault names it.
fn check_departures(ctx: &mut Ctx<'_>, faults: &[Read]) {
    let mut dead: BTreeSet<&str> = BTreeSet::new();
    // Node -> (time gone, fault index).
    let mut gone: BTreeMap<&str, (Duration, usize)> = BTreeMap::new();
    for r in faults {
        let path = format!("fault[{}]", r.index);
        let at = format_duration(r.fault.at);
        for name in &r.named {
            if let Some((when, i)) = gone.get(name.as_str()) {
                ctx.error(
                    &r.span,
                    format!("{path}: {name} is no member at {at}: fault[{i}] took it out of the cluster at {}; a fault can name it only before", format_duration(*when)),
                );
            }
        }
        match &r.fault.action {
            FaultAction::Kill(n) => {
                dead.insert(n);
            }
            FaultAction::Restart(n) => {
                dead.remove(n.as_str());
            }
            FaultAction::Leave(n) if dead.contains(n.as_str()) => ctx.error(
                &r.span,
                format!("{path}: {n} is dead at {at}: a node hands its keys off as it leaves, so it must run; write remove = \"{n}\" to forget a dead node"),
            ),
            FaultAction::Remove(n) if !dead.contains(n.as_str()) => ctx.error(
                &r.span,
                format!("{path}: {n} is running at {at}: remove forgets a dead node; kill it first, or write leave = \"{n}\" for a graceful leave"),
            ),
            _ => {}
        }
        if let FaultAction::Leave(n) | FaultAction::Remove(n) = &r.fault.action {
            gone.entry(n).or_insert((r.fault.at, r.index));
        }
    }
}
