//! Closed-form facts about a topology, computed before simulating it:
//! visit ratios from the routing (the traffic equations of a Jackson network)
//! and the offered load of open classes at each station.

use crate::model::{ClassId, Load, StationId, Topology};
use crate::routing::hops;

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
            for (from, _) in topology.stations.iter().enumerate() {
                for hop in hops(topology, StationId(from as u32), ClassId(ci as u32)) {
                    a[hop.to.idx()][from] -= hop.visits;
                }
            }
            let mut rhs = vec![0.0; n];
            rhs[topology.classes[ci].entry.idx()] = 1.0;
            solve(a, rhs).filter(|v| v.iter().all(|&x| x.is_finite() && x > -1e-9))
        })
        .collect()
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
            let Some(q) = station.queue() else { continue };
            if let Some(Some(b)) = station.behaviour.get(ci) {
                rho[si] += rate * v[si] * b.work.mean() / 1e9 / f64::from(q.servers);
            }
        }
    }
    rho
}

#[cfg(test)]
mod tests {
    use super::*;

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
                    profile: None,
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            }],
            faults: Vec::new(),
            autoscalers: Vec::new(),
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
                    profile: None,
                },
                entry: StationId(0),
                priority: 0,
                deadline: None,
                rate_limit: None,
            }],
            faults: Vec::new(),
            autoscalers: Vec::new(),
        };
        assert_eq!(visit_ratios(&topology)[0], None);
    }
}
