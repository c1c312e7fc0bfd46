//! Session-aware balancing, checked by what defines it rather than by
//! a distribution: where a session goes, and what moves when a target
//! is down.
use super::*;

fn balanced(policy: Policy, sessions: u32, down: Vec<Downtime>) -> Topology {
    let mut dispatch = Dispatch::new(policy, (1..=4).map(StationId).collect());
    // Strongly skewed: which target holds which session shows in the counts.
    dispatch.sessions = Some(Sessions {
        count: sessions,
        zipf: 2.0,
    });
    dispatch.down = down;
    let mut lb = Station::new("lb", 1, Discipline::Fifo, vec![None]);
    lb.role = Role::Balancer(dispatch);
    let mut stations = vec![lb];
    stations.extend((1..=4).map(|i| {
        Station::new(
            format!("t{i}"),
            u32::MAX,
            Discipline::Fifo,
            vec![Some(Behaviour {
                work: Dist::exp(1e9).unwrap(),
                routing: Routing::exit(),
            })],
        )
    }));
    Topology {
        stations,
        classes: vec![Class {
            name: "web".into(),
            load: Load::Open {
                process: ArrivalProcess::Poisson,
                rate: 10.0,
                profile: None,
            },
            entry: StationId(0),
            priority: 0,
            deadline: None,
            rate_limit: None,
        }],
        faults: Vec::new(),
        autoscalers: Vec::new(),
    }
}

fn arrivals(t: &Topology) -> Vec<u64> {
    let config = RunConfig::new(SimTime::ZERO, SimTime::from_secs_f64(2_000.0));
    let stats = run(t, &config, 9).unwrap();
    stats.stations[1..].iter().map(|s| s.arrivals).collect()
}

/// With a single session, sticky and consistent hashing send every
/// request to one target.
#[test]
fn one_session_one_target() {
    for policy in [Policy::Sticky, Policy::ConsistentHash] {
        let a = arrivals(&balanced(policy, 1, Vec::new()));
        assert_eq!(a.iter().filter(|&&n| n > 0).count(), 1, "{policy:?}: {a:?}");
    }
}

/// Consistent hashing moves only the sessions of a target that is down:
/// with the same draws, every other target receives at least what it
/// received with all targets up, and the down target nothing.
#[test]
fn a_target_down_moves_only_its_sessions() {
    for sessions in [3, 5, 8, 13, 21] {
        let up = arrivals(&balanced(Policy::ConsistentHash, sessions, Vec::new()));
        // The target with the most traffic goes down.
        let k = (0..4).max_by_key(|&i| up[i]).unwrap_or(0);
        let down = arrivals(&balanced(
            Policy::ConsistentHash,
            sessions,
            vec![Downtime {
                target: k,
                from: SimTime::ZERO,
                to: SimTime::from_secs_f64(1e6),
            }],
        ));
        assert_eq!(down[k], 0);
        for i in (0..4).filter(|&i| i != k) {
            assert!(
                down[i] >= up[i],
                "{sessions} sessions, target {i}: {} < {}",
                down[i],
                up[i]
            );
        }
        assert_eq!(up.iter().sum::<u64>(), down.iter().sum::<u64>());
    }
}
