//! Asynchronous replication: a database's leader records when each key's
//! last write becomes visible, and its followers' reads are stale when the
//! key they read has a write not visible yet.

use rand_distr::Zipf;

use super::cache::{draw, zipf};
use crate::dist::Dist;
use crate::model::Popularity;
use crate::rng::Stream;
use crate::time::nanos_from_f64;

/// A replicated database's state at one of its stations.
pub(super) enum ReplicaState {
    /// The leader: when each key's last write becomes visible.
    Leader {
        keys: Zipf<f64>,
        lag: Dist,
        visible_at: Vec<u64>,
        /// When the last write becomes visible (writes apply in order).
        last: u64,
        stream: Stream,
        lag_stream: Stream,
    },
    /// A follower: the leader's station and the same catalogue.
    Follower {
        leader: u32,
        keys: Zipf<f64>,
        count: u32,
        stream: Stream,
    },
}

impl ReplicaState {
    pub(super) fn leader(
        keys: Popularity,
        lag: Dist,
        stream: Stream,
        lag_stream: Stream,
    ) -> ReplicaState {
        ReplicaState::Leader {
            keys: zipf(keys),
            lag,
            visible_at: vec![0; keys.count as usize],
            last: 0,
            stream,
            lag_stream,
        }
    }

    pub(super) fn follower(leader: u32, keys: Popularity, stream: Stream) -> ReplicaState {
        ReplicaState::Follower {
            leader,
            keys: zipf(keys),
            count: keys.count,
            stream,
        }
    }

    /// A write at the leader at `now`, of `key` (modulo the catalogue) or
    /// of one drawn.
    pub(super) fn write(&mut self, now: u64, key: Option<u32>) {
        if let ReplicaState::Leader {
            keys,
            lag,
            visible_at,
            last,
            stream,
            lag_stream,
        } = self
        {
            let key = match key {
                Some(k) => k % visible_at.len() as u32,
                None => draw(keys, stream),
            };
            let visible = now
                .saturating_add(nanos_from_f64(lag.sample(lag_stream)))
                .max(*last);
            *last = visible;
            visible_at[key as usize] = visible;
        }
    }

    /// A follower's leader and the key it reads: `key` (modulo the
    /// catalogue) or one drawn; `None` at the leader.
    pub(super) fn read_key(&mut self, key: Option<u32>) -> Option<(u32, u32)> {
        match self {
            ReplicaState::Follower {
                leader,
                keys,
                count,
                stream,
            } => Some((
                *leader,
                match key {
                    Some(k) => k % *count,
                    None => draw(keys, stream),
                },
            )),
            ReplicaState::Leader { .. } => None,
        }
    }

    /// Whether `key` read at `now` misses a write (at the leader's state).
    pub(super) fn stale(&self, key: u32, now: u64) -> bool {
        match self {
            ReplicaState::Leader { visible_at, .. } => now < visible_at[key as usize],
            ReplicaState::Follower { .. } => false,
        }
    }
}
