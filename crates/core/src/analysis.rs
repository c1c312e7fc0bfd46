//! Closed-form facts about a topology, computed before simulating it:
//! visit ratios from the routing (the traffic equations of a Jackson network)
//! and the offered load of open classes at each station.

use crate::model::{CacheContents, Load, Op, Popularity, Topology, WritePolicy};

/// Per class and station, the mean number of visits a request makes.
///
/// Solves `v = e + Pᵀ v` for each class, where `e` is one at the class's entry
/// and `P` its routing matrix. `None` for a class whose requests cannot leave
/// (the system `I - Pᵀ` is singular, or a solution is negative or infinite).
pub fn visit_ratios(topology: &Topology) -> Vec<Option<Vec<f64>>> {
    let n = topology.stations.len();
    (0..topology.classes.len())
        .map(|ci| {
            // Build A = I - Pᵀ for this class, and b = e_entry.
            let mut a = vec![vec![0.0; n]; n];
            for (i, row) in a.iter_mut().enumerate() {
                row[i] = 1.0;
            }
            for (from, station) in topology.stations.iter().enumerate() {
                // A balancer sends each target an equal share in the long run
                // (exactly for round robin and random; for least connections
                // when the targets are alike, an approximation otherwise).
                if let Some(d) = &station.dispatch {
                    let share = 1.0 / d.targets.len() as f64;
                    for to in &d.targets {
                        a[to.idx()][from] -= share;
                    }
                    continue;
                }
                // A call sends each target one visit per call made; the
                // caller then continues by its own routing.
                if let Some(c) = &station.call {
                    for to in &c.targets {
                        a[to.idx()][from] -= c.probability[ci];
                    }
                }
                // A cache sends its misses (and writes that go through) to
                // its backing store, whose end routes as the cache does.
                let mut onward = 1.0;
                if let Some(c) = &station.cache {
                    let backing = match (c.ops[ci], c.write_policy) {
                        (Op::Write, WritePolicy::WriteBack { .. }) => 1.0,
                        (Op::Write, _) => {
                            onward = 0.0;
                            1.0
                        }
                        (Op::Read, _) => {
                            let miss = 1.0 - expected_hit_ratio(&c.contents);
                            onward = 1.0 - miss;
                            miss
                        }
                    };
                    a[c.backing.idx()][from] -= backing;
                }
                if let Some(Some(b)) = station.behaviour.get(ci) {
                    for &(to, p) in &b.routing.next {
                        a[to.idx()][from] -= onward * p;
                    }
                }
            }
            let mut rhs = vec![0.0; n];
            rhs[topology.classes[ci].entry.idx()] = 1.0;
            solve(a, rhs).filter(|v| v.iter().all(|&x| x.is_finite() && x > -1e-9))
        })
        .collect()
}

/// The long-run hit ratio of a cache's reads: the fixed one, or for an LRU
/// cache Che's approximation (ignoring the time to live).
pub fn expected_hit_ratio(contents: &CacheContents) -> f64 {
    match contents {
        CacheContents::HitRatio(h) => *h,
        CacheContents::Lru { keys, capacity, .. } => che_hit_ratio(*keys, *capacity),
    }
}

/// Che's approximation of an LRU cache's hit ratio under independent
/// requests with Zipf popularity: the characteristic time `T` solves
/// `Σₖ (1 − e^(−pₖT)) = capacity`, and the hit ratio is
/// `Σₖ pₖ (1 − e^(−pₖT))`. Keys beyond the first thousand are grouped in
/// bins 1% wide, over which the popularity barely changes.
pub fn che_hit_ratio(keys: Popularity, capacity: u32) -> f64 {
    if capacity >= keys.count {
        return 1.0;
    }
    // (popularity weight of one key in the bin, keys in the bin)
    let mut bins: Vec<(f64, f64)> = Vec::new();
    let mut k = 1u64;
    let n = u64::from(keys.count);
    while k <= n {
        let width = if k <= 1000 { 1 } else { (k / 100).max(1) };
        let end = (k + width - 1).min(n);
        let mid = (k + end) as f64 / 2.0;
        bins.push((mid.powf(-keys.zipf), (end - k + 1) as f64));
        k = end + 1;
    }
    let total: f64 = bins.iter().map(|(w, m)| w * m).sum();
    let occupied = |t: f64| -> f64 {
        bins.iter()
            .map(|(w, m)| m * (1.0 - (-w / total * t).exp()))
            .sum()
    };
    // Bracket T, then bisect. When no finite T fills the cache (so skewed a
    // popularity that the keys requested at all fit in it), every read hits.
    let target = f64::from(capacity);
    let (mut low, mut high) = (0.0f64, 1.0f64);
    while occupied(high) < target {
        if high > 1e300 {
            return 1.0;
        }
        high *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (low + high);
        if occupied(mid) < target {
            low = mid;
        } else {
            high = mid;
        }
    }
    let t = 0.5 * (low + high);
    bins.iter()
        .map(|(w, m)| {
            let p = w / total;
            m * p * (1.0 - (-p * t).exp())
        })
        .sum()
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[row][col] / a[col][col];
            if factor != 0.0 {
                let (upper, lower) = a.split_at_mut(row);
                for (x, pivot_x) in lower[0][col..].iter_mut().zip(&upper[col][col..]) {
                    *x -= factor * pivot_x;
                }
                b[row] -= factor * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// The offered load of the open classes at each station: `ρ = Σ λ v E[S] / c`.
///
/// Closed classes are left out: a finite population cannot overload a
/// station. Classes whose visit ratios cannot be computed are left out too
/// (see [`visit_ratios`]).
pub fn offered_load(topology: &Topology) -> Vec<f64> {
    let visits = visit_ratios(topology);
    let mut rho = vec![0.0; topology.stations.len()];
    for (ci, class) in topology.classes.iter().enumerate() {
        let (Load::Open { rate, .. }, Some(v)) = (&class.load, &visits[ci]) else {
            continue;
        };
        for (si, station) in topology.stations.iter().enumerate() {
            if station.dispatch.is_some() || station.call.is_some() {
                continue;
            }
            if let Some(Some(b)) = station.behaviour.get(ci) {
                rho[si] += rate * v[si] * b.work.mean() / 1e9 / f64::from(station.servers);
            }
        }
    }
    rho
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Che's approximation at its limits: a cache as large as the catalogue
    /// holds it all; a popularity so skewed that only the first key is ever
    /// drawn fits in any cache; uniform popularity gives capacity / keys.
    #[test]
    fn che_at_its_limits() {
        let keys = |zipf| Popularity { count: 1000, zipf };
        assert_eq!(che_hit_ratio(keys(0.9), 1000), 1.0);
        assert_eq!(che_hit_ratio(keys(1e10), 10), 1.0);
        // Uniform: every key has the same hit probability 1 − e^(−T/N) = C/N.
        assert!((che_hit_ratio(keys(0.0), 250) - 0.25).abs() < 1e-9);
    }
    use crate::dist::Dist;
    use crate::model::*;

    /// The MODEL.md feedback example: a → b → c, 30% of c back to a.
    /// Every station is visited 1/0.7 times; at 0.56/s, a has ρ = 0.8,
    /// b (2 servers, 2 s) ρ = 0.8, c (0.8 s) ρ = 0.64.
    #[test]
    fn feedback_visit_ratios_and_loads() {
        let st = |name: &str, servers, mean: f64, routing| {
            Station::new(
                name,
                servers,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::exp(mean * 1e9).unwrap(),
                    routing,
                })],
            )
        };
        let topology = Topology {
            stations: vec![
                st("a", 1, 1.0, Routing::to(StationId(1))),
                st("b", 2, 2.0, Routing::to(StationId(2))),
                st(
                    "c",
                    1,
                    0.8,
                    Routing {
                        next: vec![(StationId(0), 0.3)],
                    },
                ),
            ],
            classes: vec![Class {
                name: "jobs".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 0.56,
                },
                entry: StationId(0),
                priority: 0,
            }],
        };
        let v = visit_ratios(&topology)[0].clone().unwrap();
        for x in &v {
            assert!((x - 1.0 / 0.7).abs() < 1e-12);
        }
        let rho = offered_load(&topology);
        assert!((rho[0] - 0.8).abs() < 1e-12);
        assert!((rho[1] - 0.8).abs() < 1e-12);
        assert!((rho[2] - 0.64).abs() < 1e-12);
    }

    #[test]
    fn a_loop_with_no_exit_has_no_visit_ratios() {
        let st = |to| {
            Station::new(
                "x",
                1,
                Discipline::Fifo,
                vec![Some(Behaviour {
                    work: Dist::exp(1.0).unwrap(),
                    routing: Routing::to(StationId(to)),
                })],
            )
        };
        let topology = Topology {
            stations: vec![st(1), st(0)],
            classes: vec![Class {
                name: "jobs".into(),
                load: Load::Open {
                    process: ArrivalProcess::Poisson,
                    rate: 1.0,
                },
                entry: StationId(0),
                priority: 0,
            }],
        };
        assert_eq!(visit_ratios(&topology)[0], None);
    }
}
