//! Reference values computed here, from closed-form queueing results, for
//! mechanisms the shared analytic cases do not cover: feedback routing,
//! every service law's second moment, processor sharing, LIFO, priorities and
//! constant arrivals. Each function returns a case in the same JSON shape as
//! `analytic-cases.json` (`id`, `results: [{inputs, expected}]`), so the same
//! harness runs them.
//!
//! The formulas are written out independently of the engine: Erlang C for
//! M/M/c, Pollaczek–Khinchine for M/G/1, the M/G/1-PS mean, Cobham's formula
//! for non-preemptive priorities, and the GI/M/1 root equation.

use serde_json::{Value, json};

/// Erlang C: probability of waiting in an M/M/c with offered load `a` (erlangs).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / f64::from(c);
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let last = term * a / f64::from(c) / (1.0 - rho); // a^c / c! / (1 - ρ)
    last / (sum + last)
}

/// Erlang-A (M/M/c+M, exponential patience of rate `theta` while queued):
/// the probability that a customer abandons, θ·E(Lq)/λ, from the
/// birth-death chain with death rate min(k, c)·μ + (k − c)⁺·θ in state k.
pub fn erlang_a(lambda: f64, mu: f64, c: u32, theta: f64) -> f64 {
    let mut p = vec![1.0_f64];
    for k in 1..100_000u32 {
        let death = f64::from(k.min(c)) * mu + f64::from(k.saturating_sub(c)) * theta;
        let next = p[p.len() - 1] * lambda / death;
        p.push(next);
        if next < 1e-300 {
            break;
        }
    }
    let total: f64 = p.iter().sum();
    let lq: f64 = p
        .iter()
        .enumerate()
        .map(|(k, pk)| (k as f64 - f64::from(c)).max(0.0) * pk / total)
        .sum();
    theta * lq / lambda
}

/// Mean figures of an M/M/c station fed at rate `lambda` with mean service `s`.
fn mmc(c: u32, lambda: f64, s: f64) -> (f64, f64, f64, f64, f64) {
    let a = lambda * s;
    let wq = erlang_c(c, a) / (f64::from(c) / s - lambda);
    let w = wq + s;
    (a / f64::from(c), lambda * w, lambda * wq, wq, w)
}

/// The feedback tandem of `scenarios/validation/jackson_feedback.toml`.
pub fn jackson_feedback() -> Value {
    let external = 0.56;
    let visits = 1.0 / 0.7;
    let flow = external * visits;
    let mut expected = serde_json::Map::new();
    let mut latency = 0.0;
    for (name, c, s) in [("a", 1, 1.0), ("b", 2, 2.0), ("c", 1, 0.8)] {
        let (rho, l, lq, wq, w) = mmc(c, flow, s);
        latency += visits * w;
        expected.insert(
            name.into(),
            json!({ "rho": rho, "L": l, "Lq": lq, "Wq": wq, "W": w, "throughput": flow }),
        );
    }
    expected.insert("T".into(), json!(latency));
    expected.insert("throughput".into(), json!(external));
    json!({
        "id": "derived_jackson_feedback",
        "results": [{ "inputs": { "lambda": external, "feedback": 0.3 }, "expected": expected }],
    })
}

/// M/G/1 at ρ = 0.5 with each service law of mean 1 s, by Pollaczek–Khinchine.
pub fn mg1_laws() -> Value {
    let lambda = 0.5;
    let laws = [
        ("const(1s)", 0.0),
        ("uniform(0.5s, 1.5s)", 1.0 / 12.0),
        ("erlang(k=3, mean=1s)", 1.0 / 3.0),
        ("gamma(mean=1s, cv=0.5)", 0.25),
        ("gamma(mean=1s, cv=2)", 4.0),
        ("hyperexp(mean=1s, cv=2)", 4.0),
        ("lognormal(mean=1s, cv=1.5)", 2.25),
        ("lognormal(p50=0.8s, p99=3s)", f64::NAN),
    ];
    let rows: Vec<Value> = laws
        .iter()
        .map(|&(law, scv)| {
            // The p50/p99 lognormal: σ = ln(p99/p50)/z99, mean = p50 e^{σ²/2}, scv = e^{σ²} − 1.
            let (mean, scv) = if scv.is_nan() {
                let sigma = (3.0f64 / 0.8).ln() / chokepoint_core::dist::Z99;
                (0.8 * (sigma * sigma / 2.0).exp(), (sigma * sigma).exp() - 1.0)
            } else {
                (1.0, scv)
            };
            let rho = lambda * mean;
            let second_moment = (1.0 + scv) * mean * mean;
            let wq = lambda * second_moment / (2.0 * (1.0 - rho));
            json!({
                "inputs": { "work": law, "lambda": lambda, "scv": scv },
                "expected": { "utilization": rho, "Wq": wq, "T": wq + mean, "Lq": lambda * wq, "L": lambda * (wq + mean) },
            })
        })
        .collect();
    json!({ "id": "derived_mg1_service_laws", "results": rows })
}

/// One server at ρ = 0.8: PS with exponential and deterministic work (the
/// M/G/1-PS mean is insensitive), and LIFO (FIFO's mean).
pub fn disciplines() -> Value {
    let (lambda, s) = (0.8, 1.0);
    let rho: f64 = lambda * s;
    let t = s / (1.0 - rho);
    let ps = |work: &str| {
        json!({
            "inputs": { "discipline": "ps", "work": work },
            // Our PS "wait" is response minus own work; "queue" is E[max(N − c, 0)].
            "expected": { "utilization": rho, "T": t, "L": rho / (1.0 - rho), "Wq": t - s, "Lq": rho / (1.0 - rho) - rho },
        })
    };
    json!({
        "id": "derived_disciplines",
        "results": [
            ps("exp(1s)"),
            ps("const(1s)"),
            {
                "inputs": { "discipline": "lifo", "work": "exp(1s)" },
                "expected": { "utilization": rho, "T": t, "L": rho / (1.0 - rho), "Wq": t - s, "Lq": rho * rho / (1.0 - rho) },
            },
        ],
    })
}

/// Cobham's formula for two non-preemptive priority classes.
pub fn priority() -> Value {
    let (l1, l2, s) = (0.4, 0.4, 1.0);
    let w0 = (l1 + l2) * 2.0 * s * s / 2.0; // Σ λ E[S²] / 2 with E[S²] = 2 s² (exponential)
    let s1 = l1 * s;
    let s2 = s1 + l2 * s;
    let w_high = w0 / (1.0 - s1);
    let w_low = w0 / ((1.0 - s1) * (1.0 - s2));
    json!({
        "id": "derived_priority_cobham",
        "results": [{
            "inputs": { "lambda_high": l1, "lambda_low": l2 },
            "expected": { "T_high": w_high + s, "T_low": w_low + s, "utilization": s2 },
        }],
    })
}

/// D/M/1 by the GI/M/1 root: σ = exp(−μ (1 − σ) D).
pub fn dm1() -> Value {
    let (period, mu) = (1.25, 1.0);
    let mut sigma: f64 = 0.5;
    for _ in 0..10_000 {
        sigma = (-mu * (1.0 - sigma) * period).exp();
    }
    let lambda = 1.0 / period;
    let t = 1.0 / (mu * (1.0 - sigma));
    json!({
        "id": "derived_dm1_constant_arrivals",
        "results": [{
            "inputs": { "lambda": lambda, "sigma": sigma },
            "expected": { "T": t, "Wq": t - 1.0 / mu, "L": lambda * t, "utilization": lambda / mu },
        }],
    })
}

/// The same capacity, 4 requests per second, three ways (the scenarios of
/// `scenarios/scaling/`): one server four times as fast (M/M/1, μ = 4),
/// four pooled servers (M/M/4, μ = 1), four servers behind a random split
/// (4 × M/M/1 at λ/4), at ρ = 0.3, 0.7 and 0.95.
pub fn scaling(layout: &str) -> Value {
    let rows: Vec<Value> = [0.3, 0.7, 0.95]
        .iter()
        .map(|&rho| {
            let lambda = 4.0 * rho;
            let expected = match layout {
                "vertical" => {
                    let (util, l, lq, wq, w) = mmc(1, lambda, 0.25);
                    json!({ "T": w, "Wq": wq, "L": l, "Lq": lq, "utilization": util })
                }
                "pooled" => {
                    let (util, l, lq, wq, w) = mmc(4, lambda, 1.0);
                    json!({ "T": w, "Wq": wq, "L": l, "Lq": lq, "utilization": util })
                }
                _ => {
                    let (util, l, lq, wq, w) = mmc(1, lambda / 4.0, 1.0);
                    json!({ "T": w, "Wq": wq, "L": l, "Lq": lq, "utilization": util })
                }
            };
            json!({ "inputs": { "rho": rho, "lambda": lambda }, "expected": expected })
        })
        .collect();
    json!({ "id": format!("derived_scaling_{layout}"), "results": rows })
}

/// [`scaling`] for one server four times as fast.
pub fn scaling_vertical() -> Value {
    scaling("vertical")
}

/// [`scaling`] for four pooled servers.
pub fn scaling_pooled() -> Value {
    scaling("pooled")
}

/// [`scaling`] for four servers behind a random split.
pub fn scaling_split() -> Value {
    scaling("split")
}

/// Four exponential replicas (μ = 1/s) behind a balancer, at ρ = 0.3, 0.7 and
/// 0.95 (`scenarios/scaling/balanced.toml`). Random: each replica is an
/// M/M/1 at λ/4. Round robin: each replica sees every fourth arrival of a
/// Poisson stream, so Erlang-4 gaps: an E4/M/1 queue, whose response time is
/// exponential with rate μ(1 − σ), σ the root in (0, 1) of
/// σ = (λ / (λ + μ(1 − σ)))⁴ (GI/M/1 with A*(s) = (λ/(λ + s))⁴).
pub fn balanced(policy: &str) -> Value {
    let rows: Vec<Value> = [0.3, 0.7, 0.95]
        .iter()
        .map(|&rho| {
            let lambda = 4.0 * rho;
            let t = match policy {
                "random" => 1.0 / (1.0 - lambda / 4.0),
                _ => {
                    let mut sigma: f64 = 0.5;
                    for _ in 0..100_000 {
                        sigma = (lambda / (lambda + (1.0 - sigma))).powi(4);
                    }
                    1.0 / (1.0 - sigma)
                }
            };
            let per_replica = lambda / 4.0;
            json!({
                "inputs": { "policy": policy, "rho": rho, "lambda": lambda },
                "expected": { "T": t, "Wq": t - 1.0, "L": per_replica * t, "utilization": rho },
            })
        })
        .collect();
    json!({ "id": format!("derived_balancer_{policy}"), "results": rows })
}

/// [`balanced`] with round robin.
pub fn balanced_round_robin() -> Value {
    balanced("round_robin")
}

/// [`balanced`] with a random choice.
pub fn balanced_random() -> Value {
    balanced("random")
}

/// Fork-join of two M/M/1 queues with service rate 100/s
/// (`scenarios/validation/fork_join.toml`): Nelson and Tantawi's exact
/// result for two servers, T = (12 − ρ)/8 · 1/(μ − λ); each queue alone is
/// an M/M/1.
pub fn fork_join() -> Value {
    let mu = 100.0;
    let results: Vec<Value> = [30.0, 50.0, 70.0]
        .into_iter()
        .map(|lambda: f64| {
            let rho = lambda / mu;
            let w = 1.0 / (mu - lambda);
            json!({
                "inputs": { "lambda": lambda, "mu": mu },
                "expected": {
                    "T": (12.0 - rho) / 8.0 * w,
                    "left_rho": rho,
                    "left_W": w,
                    "right_W": w,
                }
            })
        })
        .collect();
    json!({ "id": "derived_fork_join", "results": results })
}

/// A cache with a fixed 80% hit ratio (M/M/1, 1 ms) in front of a
/// database (M/M/2, 10 ms) that gets the misses, a Poisson stream thinned
/// to 20% (`scenarios/validation/cache_hit_ratio.toml`): the cache and the
/// database are independent M/M/1 and M/M/2 queues (Jackson), and a read
/// takes the cache's time plus, one time in five, the database's.
pub fn cache_mixture() -> Value {
    let (mu_cache, mu_db, hit) = (1000.0, 100.0, 0.8);
    let results: Vec<Value> = [300.0, 500.0, 800.0]
        .into_iter()
        .map(|lambda: f64| {
            let cache_w = 1.0 / (mu_cache - lambda);
            let lambda_db = (1.0 - hit) * lambda;
            let a = lambda_db / mu_db;
            let db_w = 1.0 / mu_db + erlang_c(2, a) / (2.0 * mu_db - lambda_db);
            json!({
                "inputs": { "lambda": lambda, "hit_ratio": hit },
                "expected": {
                    "T": cache_w + (1.0 - hit) * db_w,
                    "hit_ratio": hit,
                    "cache_W": cache_w,
                    "db_W": db_w,
                    "db_rho": a / 2.0,
                }
            })
        })
        .collect();
    json!({ "id": "derived_cache_mixture", "results": results })
}

/// Stale reads behind read replicas (`scenarios/data/read_replicas.toml`
/// with a constant 50 ms lag and 100 keys): writes leave the leader as a
/// Poisson stream of 100/s (Burke), each to a key of popularity pₖ; a key
/// has a write not yet replicated with probability 1 − e^(−λ pₖ L) (an
/// M/G/∞ count), and reads come at times independent of the writes.
pub fn stale_reads() -> Value {
    let (lambda, lag, keys) = (100.0, 0.05, 100);
    let results: Vec<Value> = [0.0, 0.8, 1.2]
        .into_iter()
        .map(|zipf: f64| {
            let weights: Vec<f64> = (1..=keys).map(|k| f64::from(k).powf(-zipf)).collect();
            let total: f64 = weights.iter().sum();
            let stale: f64 = weights
                .iter()
                .map(|w| {
                    let p = w / total;
                    p * (1.0 - (-lambda * p * lag).exp())
                })
                .sum();
            json!({
                "inputs": { "zipf": zipf, "keys": keys, "writes_per_s": lambda, "lag_s": lag },
                "expected": { "stale_ratio": stale }
            })
        })
        .collect();
    json!({ "id": "derived_stale_reads", "results": results })
}

/// A striped lock (`scenarios/data/striped_lock.toml`): 10 stripes held
/// 2 ms each, a stripe drawn at random per request, so each is an M/D/1
/// queue at λ/10: ρ = λ/10 · 2 ms, Wq = ρD / (2(1 − ρ)).
pub fn striped_lock() -> Value {
    let hold = 0.002;
    let results: Vec<Value> = [2000.0, 4000.0, 4500.0]
        .into_iter()
        .map(|lambda: f64| {
            let rho = lambda / 10.0 * hold;
            json!({
                "inputs": { "lambda": lambda, "stripes": 10, "hold_s": hold },
                "expected": {
                    "stripe_rho": rho,
                    "stripe_Wq": rho * hold / (2.0 * (1.0 - rho)),
                }
            })
        })
        .collect();
    json!({ "id": "derived_striped_lock", "results": results })
}

/// A database split into shards of one M/M/2 each (2 cores, exp(10ms)
/// per request: processor sharing, whose mean with exponential work is the
/// M/M/2's, Erlang C), its keys drawn uniformly or by Zipf (s = 1) from
/// 1,000, split by range or by hash (`scenarios/validation/shards.toml`).
/// Shard `s` receives a Poisson stream at λ · (the sum of its keys'
/// probabilities): by range, keys `⌈s·1000/N⌉` up to the next shard's
/// first, summed here; by hash, the keys `routing::shard_of` puts there
/// (the hash is the model's definition; the sum is this function's). A
/// request's mean time is the mixture of its shard's M/M/2 means.
pub fn shards() -> Value {
    use chokepoint_core::model::Partition;
    use chokepoint_core::routing::shard_of;
    let (mu, keys) = (100.0, 1000u32);
    let rows = [
        (2usize, "range", 0.0, 300.0),
        (4, "range", 0.0, 600.0),
        (8, "range", 0.0, 1200.0),
        (4, "range", 1.0, 180.0),
        (4, "hash", 1.0, 500.0),
    ];
    let results: Vec<Value> = rows
        .into_iter()
        .map(|(n, by, zipf, lambda): (usize, &str, f64, f64)| {
            let weight = |k: u32| f64::from(k + 1).powf(-zipf);
            let total: f64 = (0..keys).map(weight).sum();
            let share: Vec<f64> = (0..n)
                .map(|s| {
                    let on: Vec<u32> = match by {
                        "range" => {
                            let first = |s: usize| (s as u32 * keys).div_ceil(n as u32);
                            (first(s)..first(s + 1)).collect()
                        }
                        _ => (0..keys)
                            .filter(|&k| shard_of(k, keys, n, Partition::Hash) == s)
                            .collect(),
                    };
                    on.into_iter().map(weight).sum::<f64>() / total
                })
                .collect();
            let t: f64 = share
                .iter()
                .map(|p| {
                    let l = lambda * p;
                    p * (1.0 / mu + erlang_c(2, l / mu) / (2.0 * mu - l))
                })
                .sum();
            json!({
                "inputs": { "shards": n, "by": by, "zipf": zipf, "lambda": lambda },
                "expected": {
                    "T": t,
                    "rho0": lambda * share[0] / mu / 2.0,
                    "rho1": lambda * share[1] / mu / 2.0,
                }
            })
        })
        .collect();
    json!({ "id": "derived_shards", "results": results })
}

/// A query sent to every one of k shards that never queue (each answers
/// in exp(10ms)), answered when the last one replies
/// (`scenarios/validation/scatter_gather.toml`): the maximum of k
/// independent exponentials, of mean H_k/μ and q-quantile
/// −ln(1 − q^(1/k))/μ (the shared case `fanout_wait_for_all`, reached
/// through a sharded database's scatter-gather instead of a fan-out call).
/// The rows with `of` ask k of `of` shards drawn at random
/// (`scope = { shards = k }`): the same maximum of k.
pub fn scatter_gather() -> Value {
    let mu = 100.0;
    let results: Vec<Value> = [
        (1u32, 1u32),
        (2, 2),
        (4, 4),
        (8, 8),
        (16, 16),
        (3, 8),
        (5, 16),
    ]
    .into_iter()
    .map(|(k, of)| {
        let h: f64 = (1..=k).map(|i| 1.0 / f64::from(i)).sum();
        let q = |p: f64| -(1.0 - p.powf(1.0 / f64::from(k))).ln() / mu;
        let inputs = if k == of {
            json!({ "shards": k, "mu": mu })
        } else {
            json!({ "shards": k, "of": of, "mu": mu })
        };
        json!({
            "inputs": inputs,
            "expected": {
                "E_max": h / mu,
                "max_p50": q(0.5),
                "max_p90": q(0.9),
                "max_p99": q(0.99),
                "max_p99.9": q(0.999),
            }
        })
    })
    .collect();
    json!({ "id": "derived_scatter_gather", "results": results })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Erlang C against the shared analytic cases' values.
    #[test]
    fn erlang_c_matches_published_values() {
        assert!((erlang_c(2, 1.8) - 0.852_631_578_947_368_3).abs() < 1e-12);
        assert!((erlang_c(4, 3.6) - 0.787_753_264_295_362_6).abs() < 1e-12);
        assert!((erlang_c(1, 0.5) - 0.5).abs() < 1e-12);
    }

    /// The D/M/1 root at ρ = 0.8 (known value σ ≈ 0.6286).
    #[test]
    fn gi_m1_root() {
        let case = dm1();
        let sigma = case["results"][0]["inputs"]["sigma"].as_f64().unwrap();
        assert!((sigma - (-(1.0 - sigma) * 1.25f64).exp()).abs() < 1e-12);
        assert!((sigma - 0.6286).abs() < 1e-3, "{sigma}");
    }
}
