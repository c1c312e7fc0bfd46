//! The lessons of the tour, in order, each with the claims its tests hold
//! (see docs/tour.md for the theory behind each).

use super::{Claim, Lesson, Outputs, num};

/// Every lesson, in order.
pub(crate) const LESSONS: &[Lesson] = &[
    Lesson {
        slug: "01-utilisation",
        title: "Latency explodes near full utilisation",
        question: "Why is a server at 95% busy so much slower than at 50%, when it only does twice the work?",
        commands: &["sweep scenarios/tour/01-utilisation.toml --out tour/01"],
        chart: "latency-vs-load-requests",
        notice: "the hockey stick: flat while there is capacity, then a wall as ρ → 1. From 50% to 95% busy the load grows 1.9×, the p99 about 10×: an M/M/1's p99 is ln(100)/(μ − λ). Near the wall ρ decides, not how the capacity is split into servers.",
        next: "add \"99/s\" to the sweep: theory puts the p99 at 4.6 s, and a 2000 s run shows less (about 3.3 s): near ρ = 1 a run needs far longer to settle (the relaxation time grows as 1/(1 − √ρ)²).",
        claims: utilisation,
    },
    Lesson {
        slug: "02-variability",
        title: "Variability costs as much as load",
        question: "Two servers are both 80% busy on 10 ms requests: why does one make requests wait ten times longer?",
        commands: &["sweep scenarios/tour/02-variability.toml --out tour/02"],
        chart: "latency-vs-load-requests",
        notice: "the same mean work and the same utilisation, three laws of work: the wait grows with (1 + cv²)/2 (Pollaczek–Khinchine). Work of cv 3 at 80% busy is as slow as exponential work at 95%.",
        next: "set the cv 3 variant to \"lognormal(mean=10ms, cv=3)\": the same mean wait (it depends only on the mean and cv), a different tail.",
        claims: variability,
    },
    Lesson {
        slug: "03-pooling",
        title: "One queue for many servers beats one queue each",
        question: "Four servers: is it better to give each its own queue, or let them share one?",
        commands: &["sweep scenarios/tour/03-pooling.toml --out tour/03"],
        chart: "latency-vs-load-requests",
        notice: "the same four servers, three ways of feeding them. Sent at random, a request waits behind a busy server while another idles: four M/M/1s at a quarter of the load. One shared queue never lets a server idle while a request waits (Erlang C). Least connections looks before it sends and gets most of that back.",
        next: "add a variant with { \"load.requests.entry\" = \"lb\", \"services.lb.policy\" = \"round_robin\" }: better than random (each server's arrivals are more regular), worse than least connections.",
        claims: pooling,
    },
    Lesson {
        slug: "04-averages",
        title: "Averages hide the truth",
        question: "Garbage collection pauses a service for 53 ms every 2 s: does the mean latency show it?",
        commands: &[
            "compare scenarios/tour/04-averages-no-gc.toml scenarios/tour/04-averages.toml --out tour/04",
        ],
        chart: "latency-percentiles-web",
        notice: "the mean moves by a few milliseconds and the median not at all, while the p99 and p99.9 are four times as long: the few requests caught by a pause wait for what is left of it, up to 53 ms. Watch percentiles, not averages.",
        next: "set heap_gb = 1.2 in 04-averages.toml: less headroom, a collection every 0.1 s, and the whole distribution moves.",
        claims: averages,
    },
    Lesson {
        slug: "05-choke-point",
        title: "More machines pile up behind the same choke point",
        question: "The API is slow under load: will more API replicas make it faster?",
        commands: &[
            "sweep scenarios/tour/05-choke-point.toml --out tour/05/sweep",
            "diagnose scenarios/tour/05-choke-point.toml --out tour/05/diagnose",
        ],
        chart: "sweep/throughput-vs-replicas-web",
        notice: "with one database, 2, 4 or 8 API replicas all complete the database's 800 requests/s: the extra replicas only hold more requests waiting for its 4 connections. A second database replica serves all 1000/s. diagnose names the database's pool before simulating (the capacity table), confirms it by simulation, and tries every change: none of the API's moves the limit, and the cheapest that does is a bigger pool, on the machine the database already has.",
        next: "read tour/05/diagnose/diagnose.txt: where the time goes (pool wait in the API and in the database), and what each change would cost.",
        claims: choke_point,
    },
    Lesson {
        slug: "06-serial-lock",
        title: "A serialized path caps everything",
        question: "Each replica does 400 orders/s: how many replicas for 3000 orders/s?",
        commands: &["sweep scenarios/tour/06-serial-lock.toml --out tour/06"],
        chart: "throughput-vs-replicas-orders",
        notice: "throughput follows 400/s per replica up to 4 replicas, then stops at 2000/s: every order holds one lock for 0.5 ms, and no number of machines gets more than 1 / 0.5 ms through it. The bottleneck law, X ≤ 1/D of the busiest resource.",
        next: "give the lock keys = 4 (four stripes: rows locked separately): the cap moves to 8000/s, the replicas are the limit again, and 8 of them serve all 3000/s.",
        claims: serial_lock,
    },
    Lesson {
        slug: "07-handshake",
        title: "The handshake tax",
        question: "Opening a database connection takes 5 ms: what does a connection per query cost?",
        commands: &["sweep scenarios/tour/07-handshake.toml --out tour/07"],
        chart: "latency-vs-load-web",
        notice: "without reuse, every query pays the 5 ms handshake while holding one of the 8 connections: 5 ms more at low load, and the pool saturates at 8 / 15 ms = 533/s instead of 800/s.",
        next: "sweep services.db.pool.size over [8, 16] at 700/s: a bigger pool hides the tax until the database's cores run out.",
        claims: handshake,
    },
    Lesson {
        slug: "08-caching",
        title: "Caching trades freshness for speed",
        question: "How big a cache does a database need, and what does it cost in freshness?",
        commands: &["sweep scenarios/tour/08-caching.toml --out tour/08"],
        chart: "latency-vs-load-reads",
        notice: "the hit ratio comes from the keys' popularity and the cache's size (Che's approximation), not from a setting: 10,000 entries of 100,000 keys hit 60%, because a few keys are most of the reads. Every hit is load the database never sees, so its wall moves from 500 reads/s to 500 / (1 − hit ratio). A TTL keeps data fresher and gives hits back.",
        next: "compare scenarios/data/write_back.toml with write_policy = \"write_through\": write-back acknowledges writes at once, and keeps dozens of them at risk until its flush.",
        claims: caching,
    },
    Lesson {
        slug: "09-read-replicas",
        title: "Read replicas and stale reads",
        question: "Reads outgrow the database: what do read replicas buy, and what do they cost?",
        commands: &["sweep scenarios/tour/09-read-replicas.toml --out tour/09"],
        chart: "throughput-vs-replicas-reads",
        notice: "reads follow the replicas (2000/s each) until all 3000/s are served; the leader takes every write at the same utilisation whatever the replicas: they scale reads, never writes. A replica answers before the last write to a key has reached it: the stale ratio grows with the lag and with the keys' skew, not with the replicas.",
        next: "set zipf = 0 (even keys): the same writes spread over 100,000 keys, and stale reads all but vanish.",
        claims: read_replicas,
    },
    Lesson {
        slug: "10-balancing",
        title: "Layer 4 or layer 7, and what sticky sessions do to balance",
        question: "What does the load balancer itself cost, and how even is the load it spreads?",
        commands: &["sweep scenarios/tour/10-balancing.toml --out tour/10"],
        chart: "latency-vs-load-web",
        notice: "a layer 7 balancer parses every request on its own two cores: a millisecond more per request, and a wall at 2000/s while the API behind it could take 4000/s. Sticky sessions pin skewed sessions to replicas: the replica holding the busiest ones runs far hotter than the mean, and its queue sets the p99.",
        next: "give the layer 7 balancer profile = \"g-xlarge\" (4 cores): its wall moves to 4000/s, the API's.",
        claims: balancing,
    },
    Lesson {
        slug: "11-fan-out",
        title: "Fan-out amplifies the tail",
        question: "A backend is slow once in a hundred calls: how often is a page that asks 100 of them slow?",
        commands: &["sweep scenarios/tour/11-fan-out.toml --out tour/11"],
        chart: "latency-percentiles-search",
        notice: "a search is as slow as the slowest of its N calls, so its q-quantile is the index's q^(1/N)-quantile: with 10 leaves the p90 is the index's p99, with 100 the median is. The rare slow answer becomes the common case. Hedging each call after its p95 costs about 5% more calls and cuts the p99 by three.",
        next: "in 11-fan-out.toml write services.fanout_100's call as calls = [{ fanout = { to = \"leaf\", n = 100 }, wait = 95 }] (answer with the first 95 of 100): the slowest five no longer count, and the p99 falls from 262 ms to under 50 ms.",
        claims: fan_out,
    },
    Lesson {
        slug: "12-retry-storm",
        title: "Retries turn a blip into an outage",
        question: "A ten-second spike hits a system at 75% load: why is it still down minutes later?",
        commands: &[
            "run scenarios/tour/12-retry-storm.toml --out tour/12/storm --timeseries tour/12/storm --window 5s",
            "run scenarios/tour/12-retry-storm-budget.toml --out tour/12/budget --timeseries tour/12/budget --window 5s",
        ],
        chart: "storm/timeseries-throughput",
        notice: "after the spike, every query times out and is sent again while the database still works on the abandoned ones: it sees up to three times the users' load, and goodput stays at zero although the users came back to 75%. The spike triggered it; the retries sustain it (a metastable failure). A retry budget caps the retries in flight, and the same system recovers.",
        next: "in 12-retry-storm.toml set cancel = \"preempt\" on the call instead of a budget: the database stops the work nobody waits for, and it recovers too (docs/modeling.md, metastable failures).",
        claims: retry_storm,
    },
    Lesson {
        slug: "13-vertical-horizontal",
        title: "Vertical or horizontal: the cost curve and the single point of failure",
        question: "One big machine or four small ones, for the same money?",
        commands: &[
            "sweep scenarios/tour/13-vertical-horizontal.toml --out tour/13/sweep --no-fail-on-slo",
            "run scenarios/tour/13-vertical-horizontal.toml --out tour/13/crash --timeseries tour/13/crash --window 5s --no-fail-on-slo",
        ],
        chart: "crash/timeseries-errors",
        notice: "the same 8 cores cost the same in one machine or four (and one queue for 8 cores waits less than four queues for 2: lesson 3). But when a machine crashes for a minute, the big one takes every request with it (a fifth of the run fails); of the four small ones, only what reached the dead one before the balancer noticed fails, and the other three carry the load.",
        next: "raise the load to 1500/s: the three survivors then have too few cores for it, and horizontal needs a spare replica (N+1) to ride out a crash.",
        claims: vertical_horizontal,
    },
    Lesson {
        slug: "14-autoscaling",
        title: "Autoscaling arrives late",
        question: "Traffic triples and the autoscaler adds replicas: what happens in the two minutes before they are ready?",
        commands: &[
            "run scenarios/tour/14-autoscaling.toml --out tour/14 --timeseries tour/14 --window 10s",
        ],
        chart: "timeseries-in-system",
        notice: "the backlog grows at the 200/s the old replicas cannot serve for as long as new ones take to be ready (an evaluation, 90 s to provision, 30 s to warm up): about 27,000 requests, the oldest waiting over a minute, although the autoscaler reacted within 15 s. The overloaded old replicas make it ask for more than it needs.",
        next: "set provision = \"10s\" (a warm pool of machines): the backlog and the p99 shrink with the delay; or scale on a schedule before the known peak.",
        claims: autoscaling,
    },
];

/// Lesson 1: the p99's growth with ρ, the exact means, and ρ deciding at
/// the wall.
fn utilisation(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("")?;
    let p99 = |variant: &str, rate: &str| {
        num(
            points.at(variant, &[("load.requests.rate", rate)])?,
            "result.classes.requests.latency.p99",
        )
    };
    let (low, high) = (p99("1 server", "50/s")?, p99("1 server", "95/s")?);
    let (agree, _) = theory_agrees(&points.all(), "requests");
    let (four_low, four_high) = (p99("4 servers", "50/s")?, p99("4 servers", "95/s")?);
    Ok(vec![
        Claim::new(
            high > 8.0 * low,
            format!(
                "one server's p99 at 95% busy is {:.1}× its p99 at 50% ({:.0} ms against {:.0} ms; theory: 10×)",
                high / low,
                1e3 * high,
                1e3 * low
            ),
        ),
        Claim::new(
            agree == points.all().len(),
            format!(
                "the simulated mean agrees with the exact mean (M/M/1, Erlang C) at {agree} of {} points",
                points.all().len()
            ),
        ),
        Claim::new(
            four_low > 1.5 * low && (four_high / high - 1.0).abs() < 0.15,
            format!(
                "4 servers of a quarter the speed: p99 {:.1}× the one fast server's at 50% busy (each request takes 40 ms), {:.2}× at 95% (the wait dominates, and ρ is the same)",
                four_low / low,
                four_high / high
            ),
        ),
    ])
}

/// The class's latency figure `what` (`mean`, `p99`, ...) of a point.
fn latency(point: &serde_json::Value, class: &str, what: &str) -> anyhow::Result<f64> {
    num(point, &format!("result.classes.{class}.latency.{what}"))
}

/// A class's throughput at a point.
fn throughput(point: &serde_json::Value, class: &str) -> anyhow::Result<f64> {
    num(point, &format!("result.classes.{class}.throughput"))
}

/// How many of `points` have an exact mean that agrees with the run's, and
/// how many have one at all.
fn theory_agrees(points: &[&serde_json::Value], class: &str) -> (usize, usize) {
    let with: Vec<&serde_json::Value> = points
        .iter()
        .map(|p| &p["result"]["theory"][class]["agrees"])
        .filter(|a| a.is_boolean())
        .collect();
    (with.iter().filter(|a| **a == true).count(), with.len())
}

/// Lesson 2: Pollaczek–Khinchine's (1 + cv²)/2.
fn variability(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("")?;
    let mean = |v: &str, rate: &str| {
        latency(
            points.at(v, &[("load.requests.rate", rate)])?,
            "requests",
            "mean",
        )
    };
    let (c0, c1, c3) = (
        mean("cv 0 (constant)", "80/s")?,
        mean("cv 1 (exponential)", "80/s")?,
        mean("cv 3 (hyperexponential)", "80/s")?,
    );
    let exp95 = mean("cv 1 (exponential)", "95/s")?;
    // The wait: the response less the 10 ms of work.
    let (w0, w1, w3) = (c0 - 0.010, c1 - 0.010, c3 - 0.010);
    let (agree, with) = theory_agrees(&points.all(), "requests");
    Ok(vec![
        Claim::new(
            agree == with && with == points.all().len(),
            format!(
                "the simulated mean agrees with Pollaczek–Khinchine's at {agree} of {with} points"
            ),
        ),
        Claim::new(
            (w3 / w1 - 5.0).abs() < 1.0 && (w0 / w1 - 0.5).abs() < 0.1,
            format!(
                "at 80% busy the mean wait is {:.0} ms for cv 0, {:.0} ms for cv 1, {:.0} ms for cv 3: {:.2}× and {:.1}× the exponential's (theory: (1 + cv²)/2 = 0.5× and 5×)",
                1e3 * w0,
                1e3 * w1,
                1e3 * w3,
                w0 / w1,
                w3 / w1
            ),
        ),
        Claim::new(
            (c3 / exp95 - 1.0).abs() < 0.2,
            format!(
                "mean response: {:.0} ms for cv 3 at 80% busy, {:.0} ms for exponential work at 95% busy",
                1e3 * c3,
                1e3 * exp95
            ),
        ),
    ])
}

/// Lesson 3: pooled below split at every load, least connections close to
/// pooled.
fn pooling(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("")?;
    let rates = ["50/s", "65/s", "80/s", "90/s", "95/s"];
    let p99 = |v: &str, rate: &str| {
        latency(
            points.at(v, &[("load.requests.rate", rate)])?,
            "requests",
            "p99",
        )
    };
    let mut split_over_pooled = f64::INFINITY;
    let mut least_over_pooled: f64 = 0.0;
    let mut least_below_random = true;
    for rate in rates {
        let (pooled, random, least) = (
            p99("pooled", rate)?,
            p99("split, random", rate)?,
            p99("split, least connections", rate)?,
        );
        split_over_pooled = split_over_pooled.min(random / pooled);
        least_over_pooled = least_over_pooled.max(least / pooled);
        least_below_random &= least < random;
    }
    let (agree, with) = theory_agrees(&points.all(), "requests");
    Ok(vec![
        Claim::new(
            split_over_pooled > 1.5,
            format!(
                "at every load the split servers' p99 (random) is at least {split_over_pooled:.1}× the pooled queue's"
            ),
        ),
        Claim::new(
            least_below_random && least_over_pooled < 1.3,
            format!(
                "least connections beats random at every load, and stays within {least_over_pooled:.2}× the pooled p99"
            ),
        ),
        Claim::new(
            agree == with && with == 10,
            format!(
                "the means agree with Erlang C (pooled) and with four M/M/1s (random) at {agree} of {with} points"
            ),
        ),
    ])
}

/// Lesson 4: the mean barely moves, the tail jumps.
fn averages(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let c = o.json("", "compare.json")?;
    let figure = |design: usize, what: &str| {
        num(
            &c["results"][design],
            &format!("classes.web.latency.{what}"),
        )
    };
    let (m0, m1) = (figure(0, "mean")?, figure(1, "mean")?);
    let (p50_0, p50_1) = (figure(0, "p50")?, figure(1, "p50")?);
    let (p99_0, p99_1) = (figure(0, "p99")?, figure(1, "p99")?);
    let (p999_0, p999_1) = (figure(0, "p999")?, figure(1, "p999")?);
    Ok(vec![
        Claim::new(
            m1 / m0 < 1.15 && (p50_1 / p50_0 - 1.0).abs() < 0.02,
            format!(
                "with the pauses the mean is {:.1} ms against {:.1} ms (+{:.0}%), the median {:.1} ms against {:.1} ms",
                1e3 * m1,
                1e3 * m0,
                100.0 * (m1 / m0 - 1.0),
                1e3 * p50_1,
                1e3 * p50_0
            ),
        ),
        Claim::new(
            p99_1 > 2.5 * p99_0 && p999_1 > 2.5 * p999_0,
            format!(
                "the p99 is {:.1}× ({:.0} ms) and the p99.9 {:.1}× ({:.0} ms) as long",
                p99_1 / p99_0,
                1e3 * p99_1,
                p999_1 / p999_0,
                1e3 * p999_1
            ),
        ),
    ])
}

/// Lesson 5: the API's replicas do not move the database's limit; a second
/// database does, and diagnose names it.
fn choke_point(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("sweep")?;
    let x = |db: &str, api: &str| {
        throughput(
            points.at(
                "",
                &[("services.db.replicas", db), ("services.api.replicas", api)],
            )?,
            "web",
        )
    };
    let (two, eight) = (x("1", "2")?, x("1", "8")?);
    let (doubled_db, offered) = (x("2", "2")?, 1000.0);
    let d = o.json("diagnose", "diagnose.json")?;
    let top = format!(
        "{} {}",
        d["capacity"][0]["service"].as_str().unwrap_or_default(),
        d["capacity"][0]["resource"].as_str().unwrap_or_default()
    );
    let changes = d["changes"].as_array().cloned().unwrap_or_default();
    let best = |service: &str| {
        changes
            .iter()
            .filter(|c| {
                c["change"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(&format!("{service}:")))
            })
            .filter_map(|c| c["ratio"].as_f64())
            .fold(0.0, f64::max)
    };
    let (api_best, db_best) = (best("api"), best("db"));
    // The changes that move the limit at the price paid now.
    let as_is = d["as_it_is"]["cost_per_hour"].as_f64().unwrap_or(f64::NAN);
    let free: Vec<String> = changes
        .iter()
        .filter(|c| {
            c["cost_per_hour"].as_f64() == Some(as_is) && c["ratio"].as_f64().unwrap_or(0.0) > 1.5
        })
        .filter_map(|c| {
            Some(format!(
                "{} ×{:.2}",
                c["change"].as_str()?,
                c["ratio"].as_f64()?
            ))
        })
        .collect();
    Ok(vec![
        Claim::new(
            (eight / two - 1.0).abs() < 0.02 && (two / 800.0 - 1.0).abs() < 0.02,
            format!(
                "with one database, 8 API replicas complete {eight:.0}/s, 2 replicas {two:.0}/s: {:+.1}%, at the database's 800/s",
                100.0 * (eight / two - 1.0)
            ),
        ),
        Claim::new(
            doubled_db > 0.98 * offered,
            format!(
                "a second database replica completes {doubled_db:.0} of the {offered:.0} requests/s offered"
            ),
        ),
        Claim::new(
            top == "db pool" && api_best > 0.0 && api_best < 1.02 && db_best > 1.5,
            format!(
                "diagnose: the capacity table names {top} first; the API's best change moves the limit ×{api_best:.2}, the database's ×{db_best:.2}"
            ),
        ),
        Claim::new(
            !free.is_empty(),
            format!(
                "at no extra cost: {}",
                if free.is_empty() {
                    "nothing".to_owned()
                } else {
                    free.join(", ")
                }
            ),
        ),
    ])
}

/// Lesson 6: min(400/s × replicas, 1 / 0.5 ms).
fn serial_lock(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("")?;
    let mut worst: f64 = 0.0;
    let mut seen = Vec::new();
    for n in [1u32, 2, 4, 8, 16] {
        let got = throughput(
            points.at("", &[("services.api.replicas", &n.to_string())])?,
            "orders",
        )?;
        let bound = (400.0 * f64::from(n)).min(2000.0);
        worst = worst.max((got / bound - 1.0).abs());
        seen.push(format!("{n}: {got:.0}/s"));
    }
    let (eight, sixteen) = (
        throughput(points.at("", &[("services.api.replicas", "8")])?, "orders")?,
        throughput(points.at("", &[("services.api.replicas", "16")])?, "orders")?,
    );
    Ok(vec![
        Claim::new(
            worst < 0.03,
            format!(
                "throughput is min(400/s × replicas, 2000/s) within {:.1}% ({})",
                100.0 * worst,
                seen.join(", ")
            ),
        ),
        Claim::new(
            sixteen < 1.01 * eight && sixteen <= 2000.0 * 1.01,
            format!(
                "16 replicas complete {sixteen:.0}/s, 8 replicas {eight:.0}/s: the lock's 2000/s"
            ),
        ),
    ])
}

/// Lesson 7: 5 ms on every query, a third of the pool's capacity.
fn handshake(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("")?;
    let at = |v: &str, rate: &str| points.at(v, &[("load.web.rate", rate)]);
    let (pooled, fresh) = (
        latency(at("pooled connections", "200/s")?, "web", "mean")?,
        latency(at("a connection per query", "200/s")?, "web", "mean")?,
    );
    let (x_pooled, x_fresh) = (
        throughput(at("pooled connections", "700/s")?, "web")?,
        throughput(at("a connection per query", "700/s")?, "web")?,
    );
    Ok(vec![
        Claim::new(
            ((fresh - pooled) / 0.005 - 1.0).abs() < 0.1,
            format!(
                "at 200/s a connection per query adds {:.1} ms to the mean ({:.1} ms against {:.1} ms): the handshake",
                1e3 * (fresh - pooled),
                1e3 * fresh,
                1e3 * pooled
            ),
        ),
        Claim::new(
            x_pooled > 0.98 * 700.0 && (x_fresh / (8.0 / 0.015) - 1.0).abs() < 0.03,
            format!(
                "offered 700/s, the reused pool completes {x_pooled:.0}/s, a connection per query {x_fresh:.0}/s (8 / 15 ms = 533/s)"
            ),
        ),
    ])
}

/// Lesson 8: the hit ratio is Che's, the database's wall moves with it, a
/// TTL costs hits.
fn caching(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    use chokepoint_core::model::Popularity;
    use chokepoint_core::routing::che_hit_ratio;
    let points = o.points("")?;
    let at = |v: &str| points.at(v, &[("load.reads.rate", "900/s")]);
    let hit = |v: &str| num(at(v)?, "result.stations.cache.cache.hit_ratio");
    let keys = Popularity {
        count: 100_000,
        zipf: 0.9,
    };
    let mut worst: f64 = 0.0;
    let mut seen = Vec::new();
    for (v, capacity) in [
        ("1,000 entries", 1000),
        ("10,000 entries", 10_000),
        ("50,000 entries", 50_000),
    ] {
        let (measured, che) = (hit(v)?, che_hit_ratio(keys, capacity));
        worst = worst.max((measured - che).abs());
        seen.push(format!(
            "{capacity}: {:.1}% (Che {:.1}%)",
            100.0 * measured,
            100.0 * che
        ));
    }
    let (none, ten) = (
        throughput(at("no cache")?, "reads")?,
        throughput(at("10,000 entries")?, "reads")?,
    );
    let (fresh, kept) = (hit("10,000 entries, ttl 2 s")?, hit("10,000 entries")?);
    Ok(vec![
        Claim::new(
            worst < 0.015,
            format!(
                "the measured hit ratio is Che's within {:.1} points: {}",
                100.0 * worst,
                seen.join(", ")
            ),
        ),
        Claim::new(
            none < 500.0 * 1.02 && ten > 0.98 * 900.0,
            format!(
                "offered 900 reads/s, the database alone completes {none:.0}/s; behind 10,000 entries all {ten:.0}/s"
            ),
        ),
        Claim::new(
            kept - fresh > 0.2,
            format!(
                "a TTL of 2 s takes the hit ratio from {:.0}% to {:.0}%",
                100.0 * kept,
                100.0 * fresh
            ),
        ),
    ])
}

/// Lesson 9: reads scale with the replicas, writes stay on the leader, and
/// the stale ratio is the M/G/∞ sum.
fn read_replicas(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("")?;
    let at = |lag: &str, n: &str| points.at(lag, &[("services.db.replicas.count", n)]);
    let (one, two) = (
        throughput(at("lag 50 ms", "1")?, "reads")?,
        throughput(at("lag 50 ms", "2")?, "reads")?,
    );
    let leader = |n: &str| -> anyhow::Result<f64> {
        at("lag 50 ms", n)?["result"]["stations"]["db"]["parts"]["db[0].cpu"]["utilization"]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("no leader utilisation"))
    };
    let leaders = [leader("1")?, leader("2")?, leader("4")?];
    // Σ pₖ (1 − e^(−λ_w pₖ L)) over 100,000 keys of Zipf 0.99.
    let weights: Vec<f64> = (1..=100_000).map(|k| f64::from(k).powf(-0.99)).collect();
    let total: f64 = weights.iter().sum();
    let stale = |lag: f64| -> f64 {
        weights
            .iter()
            .map(|w| {
                let p = w / total;
                p * (1.0 - (-100.0 * p * lag).exp())
            })
            .sum()
    };
    let mut worst: f64 = 0.0;
    let mut seen = Vec::new();
    for (text, lag) in [("lag 50 ms", 0.05), ("lag 200 ms", 0.2)] {
        for n in ["1", "2", "4"] {
            let p = at(text, n)?;
            let measured = num(p, "result.stations.db.replication.stale_ratio")?;
            let ci = num(p, "result.stations.db.replication.stale_ratio_ci95").unwrap_or(0.0);
            worst = worst.max((measured - stale(lag)).abs() - ci);
        }
        seen.push(format!("{:.1}% at {:.0} ms", 100.0 * stale(lag), 1e3 * lag));
    }
    Ok(vec![
        Claim::new(
            (one / 2000.0 - 1.0).abs() < 0.02 && two > 0.98 * 3000.0,
            format!(
                "offered 3000 reads/s, one read replica serves {one:.0}/s (its 2000/s), two serve {two:.0}/s"
            ),
        ),
        Claim::new(
            leaders.iter().all(|u| (u / 0.1 - 1.0).abs() < 0.05),
            format!(
                "the leader is {:.1}%, {:.1}% and {:.1}% busy with 1, 2 and 4 replicas: 100 writes/s × 4 ms on 4 cores, wherever the reads go",
                100.0 * leaders[0],
                100.0 * leaders[1],
                100.0 * leaders[2]
            ),
        ),
        Claim::new(
            worst < 0.003,
            format!(
                "the stale ratio is Σ pₖ(1 − e^(−λ_w pₖ L)) ({}) within its interval and 0.3 points at every point",
                seen.join(", ")
            ),
        ),
    ])
}

/// Lesson 10: the layer 7 balancer's cost and wall, sticky sessions'
/// imbalance.
fn balancing(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("")?;
    let at = |v: &str, rate: &str| points.at(v, &[("load.web.rate", rate)]);
    let (l4, l7) = (
        latency(at("layer 4", "1000/s")?, "web", "mean")?,
        latency(at("layer 7", "1000/s")?, "web", "mean")?,
    );
    // An M/M/2 of 1 ms at ρ = 0.5: 1 ms / (1 − ρ²).
    let parse = 0.001 / (1.0 - 0.25);
    let (x4, x7) = (
        throughput(at("layer 4", "3000/s")?, "web")?,
        throughput(at("layer 7", "3000/s")?, "web")?,
    );
    let sticky = at("layer 4, sticky sessions", "3000/s")?;
    let (busiest, mean) = (
        num(sticky, "result.stations.api.busiest_replica")?,
        num(sticky, "result.stations.api.utilization")?,
    );
    let (p99_sticky, p99_even) = (
        latency(sticky, "web", "p99")?,
        latency(at("layer 4", "3000/s")?, "web", "p99")?,
    );
    Ok(vec![
        Claim::new(
            ((l7 - l4) / parse - 1.0).abs() < 0.1,
            format!(
                "at 1000/s layer 7 adds {:.2} ms to the mean (the balancer's M/M/2 at ρ = 0.5: {:.2} ms)",
                1e3 * (l7 - l4),
                1e3 * parse
            ),
        ),
        Claim::new(
            x7 < 2000.0 * 1.02 && x4 > 0.98 * 3000.0,
            format!(
                "offered 3000/s, layer 7 completes {x7:.0}/s (its 2 cores / 1 ms), layer 4 {x4:.0}/s"
            ),
        ),
        Claim::new(
            busiest > 1.15 * mean && p99_sticky > 3.0 * p99_even,
            format!(
                "at 3000/s with sticky sessions the busiest replica is {:.0}% busy against {:.0}% on average, and the p99 is {:.0} ms against {:.0} ms balanced",
                100.0 * busiest,
                100.0 * mean,
                1e3 * p99_sticky,
                1e3 * p99_even
            ),
        ),
    ])
}

/// Lesson 11: the maximum of N, and hedging.
fn fan_out(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    use statrs::distribution::{ContinuousCDF, Normal};
    let points = o.points("")?;
    // The index's law: lognormal, μ = ln 5 ms, σ = ln(60/5) / z(0.99).
    let z = Normal::standard();
    let sigma = (60.0f64 / 5.0).ln() / z.inverse_cdf(0.99);
    let quantile = |q: f64| 0.005 * (sigma * z.inverse_cdf(q)).exp();
    let mut worst: f64 = 0.0;
    for (v, n) in [("1 leaf", 1.0), ("10 leaves", 10.0), ("100 leaves", 100.0)] {
        let p = points.at(v, &[])?;
        for (what, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            let expected = quantile(f64::powf(q, 1.0 / n));
            worst = worst.max((latency(p, "search", what)? / expected - 1.0).abs());
        }
    }
    let plain = points.at("100 leaves", &[])?;
    let hedged = points.at("100 leaves, hedged", &[])?;
    let median = latency(plain, "search", "p50")?;
    let (p99, p99_hedged) = (
        latency(plain, "search", "p99")?,
        latency(hedged, "search", "p99")?,
    );
    let hedges = num(hedged, "result.stations.hedged_leaf.resilience.hedges")?
        / num(hedged, "result.stations.hedged_leaf.resilience.calls")?;
    Ok(vec![
        Claim::new(
            worst < 0.05,
            format!(
                "with 1, 10 and 100 leaves, each search's p50, p90 and p99 is the index's quantile at q^(1/N) within {:.1}%",
                100.0 * worst
            ),
        ),
        Claim::new(
            median > quantile(0.99),
            format!(
                "with 100 leaves the median search takes {:.0} ms, more than the index's p99 ({:.0} ms): 1 − 0.99^100 = 63% of searches meet a slow answer",
                1e3 * median,
                1e3 * quantile(0.99)
            ),
        ),
        Claim::new(
            p99_hedged < 0.5 * p99 && (0.03..0.08).contains(&hedges),
            format!(
                "hedging after the p95 sends {:.1}% more calls and takes the p99 from {:.0} ms to {:.0} ms",
                100.0 * hedges,
                1e3 * p99,
                1e3 * p99_hedged
            ),
        ),
    ])
}

/// Lesson 12: the storm is metastable; the budget recovers.
fn retry_storm(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let storm = o.json("storm", "results.json")?;
    let budget = o.json("budget", "results.json")?;
    let m = &storm["metastability"];
    let b = &budget["metastability"];
    let (goodput, control) = (num(m, "goodput")?, num(m, "control_goodput")?);
    let (retries, wasted) = (num(m, "retries_share")?, num(m, "wasted_share")?);
    let recovered = num(b, "goodput")?;
    // During the spike the users' goodput falls; afterwards it stays down
    // (storm) or comes back (budget): the last minute's throughput.
    let tail = |sub: &str| -> anyhow::Result<f64> {
        let s = o.series(sub, "class", "users", "throughput")?;
        let last: Vec<f64> = s.iter().filter(|(t, _)| *t > 240.0).map(|p| p.1).collect();
        // The last minute's twelve 5 s windows.
        anyhow::ensure!(
            last.len() == 12,
            "{sub}: {} windows in the last minute",
            last.len()
        );
        Ok(last.iter().sum::<f64>() / last.len() as f64)
    };
    let (storm_end, budget_end) = (tail("storm")?, tail("budget")?);
    Ok(vec![
        Claim::new(
            m["metastable"] == true && goodput < 0.1 && control > 0.9,
            format!(
                "after the spike the storm's goodput is {:.0}% of the offered load, against {:.0}% without the spike on the same seeds: metastable",
                100.0 * goodput,
                100.0 * control
            ),
        ),
        Claim::new(
            retries > 0.5 && wasted > 0.5,
            format!(
                "what sustains it: retries are {:.0}% of the attempts, and {:.0}% of the work is for callers that left",
                100.0 * retries,
                100.0 * wasted
            ),
        ),
        Claim::new(
            b["metastable"] == false
                && recovered > 0.7
                && budget_end > 0.95 * 300.0
                && storm_end < 30.0,
            format!(
                "with a retry budget the goodput is {:.0}% after the spike; in the last minute the users complete {budget_end:.0}/s, against {storm_end:.0}/s without it",
                100.0 * recovered
            ),
        ),
    ])
}

/// Lesson 13: the same price, a fifth of the requests lost by one machine,
/// under 1% by four.
fn vertical_horizontal(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let points = o.points("sweep")?;
    let rates = ["250/s", "500/s", "1000/s", "1250/s"];
    let lost = |p: &serde_json::Value| -> anyhow::Result<f64> {
        let c = "result.classes.orders";
        Ok(
            (num(p, &format!("{c}.failed"))? + num(p, &format!("{c}.dropped"))?)
                / num(p, &format!("{c}.arrived"))?,
        )
    };
    let (mut vertical, mut horizontal) = (Vec::new(), Vec::new());
    let mut same_price = true;
    for rate in rates {
        let v = points.at("vertical", &[("load.orders.rate", rate)])?;
        let h = points.at("horizontal", &[("load.orders.rate", rate)])?;
        vertical.push(lost(v)?);
        horizontal.push(lost(h)?);
        same_price &= num(v, "result.cost.per_hour")? == num(h, "result.cost.per_hour")?;
    }
    // A minute of the 300 s lost; a quarter of the 5 s before detection.
    let all_down = 60.0 / 300.0;
    let quarter = 0.25 * 5.0 / 300.0;
    let errors = o.series("crash", "class", "orders", "errors")?;
    let down: Vec<f64> = errors
        .iter()
        .filter(|(t, _)| *t > 110.0 && *t <= 160.0)
        .map(|p| p.1)
        .collect();
    anyhow::ensure!(
        down.len() == 10,
        "{} windows while the machine is down",
        down.len()
    );
    let during = down.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(vec![
        Claim::new(
            same_price,
            "at every load both designs cost the same per hour".to_owned(),
        ),
        Claim::new(
            vertical.iter().all(|x| (x - all_down).abs() < 0.015)
                && horizontal.iter().all(|x| *x < 2.0 * quarter),
            format!(
                "requests lost to the crash: {} for the one machine (a minute of 300 s: 20%), {} for the four (a quarter of 5 s: {:.2}%)",
                vertical
                    .iter()
                    .map(|x| format!("{:.1}%", 100.0 * x))
                    .collect::<Vec<_>>()
                    .join(", "),
                horizontal
                    .iter()
                    .map(|x| format!("{:.2}%", 100.0 * x))
                    .collect::<Vec<_>>()
                    .join(", "),
                100.0 * quarter
            ),
        ),
        Claim::new(
            during > 0.95 * 1000.0,
            format!(
                "while the one machine is down, at least {during:.0} requests/s fail, of the 1000/s offered"
            ),
        ),
    ])
}

/// Lesson 14: the backlog of the provisioning delay.
fn autoscaling(o: &Outputs) -> anyhow::Result<Vec<Claim>> {
    let present = o.series("", "station", "api", "in_system")?;
    let (peak_at, peak) = present
        .iter()
        .copied()
        .fold((0.0, 0.0), |best, p| if p.1 > best.1 { p } else { best });
    // 200/s unserved until the evaluation at 315 s and 120 s more.
    let expected = 200.0 * (15.0 + 120.0);
    let p99 = o.series("", "class", "orders", "latency_p99")?;
    let before = p99
        .iter()
        .filter(|(t, _)| *t <= 300.0 && *t > 100.0)
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let after = p99
        .iter()
        .filter(|(t, _)| *t > 300.0)
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let r = o.json("", "results.json")?;
    let asked = num(&r, "stations.api.autoscaling.peak")?;
    Ok(vec![
        Claim::new(
            (peak / expected - 1.0).abs() < 0.15 && (400.0..=470.0).contains(&peak_at),
            format!(
                "the backlog peaks at {peak:.0} requests, {:.0} s after the step (200/s × (15 s + 120 s) = {expected:.0})",
                peak_at - 300.0
            ),
        ),
        Claim::new(
            after > 50.0 * before,
            format!(
                "the p99 of a 10 s window reaches {:.1} s, against at most {:.0} ms before the step",
                after,
                1e3 * before
            ),
        ),
        Claim::new(
            asked > 4.0,
            format!(
                "it asks for up to {asked:.0} replicas where 4 serve the new load at its 60% target"
            ),
        ),
    ])
}
