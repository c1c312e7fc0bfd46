//! What each service became: its stations by role, per replica, and where
//! each station of the topology came from.
//!
//! A service is lowered into one station (a plain station, a balancer, a
//! queue, an external) or into several: replicas, each a chain of parts
//! (a connection step, a serial lock, the CPU, a disk, a network link, then
//! its call points), with network hops, locks and a read-replica balancer
//! beside them. Reports read a service's parts by role from its
//! [`ServiceLayout`]; nothing downstream parses a station's name or reads a
//! structure by position.

use chokepoint_core::model::StationId;

use crate::profiles::Profile;

/// Index of a service in the scenario's file order (and in
/// [`crate::Scenario::services`]). Distinct from a [`StationId`]: a service
/// may be many stations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u32);

impl ServiceId {
    /// This id as a vector index.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// A service's `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// A plain queueing station.
    Station,
    /// A load balancer (layer 4, or layer 7 on its own machine).
    LoadBalancer,
    /// Replicas of an API on machines, with worker threads.
    Api,
    /// A cache in front of a backing store.
    Cache,
    /// Replicas of a database, with a connection pool, maybe read replicas.
    Database,
    /// A queue of messages in front of a worker.
    Queue,
    /// Replicas of a worker consuming a queue.
    Worker,
    /// A third party's latency.
    External,
}

impl ServiceKind {
    /// The kind as written in a scenario.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Station => "station",
            ServiceKind::LoadBalancer => "load_balancer",
            ServiceKind::Api => "api",
            ServiceKind::Cache => "cache",
            ServiceKind::Database => "database",
            ServiceKind::Queue => "queue",
            ServiceKind::Worker => "worker",
            ServiceKind::External => "external",
        }
    }

    /// The kind written `word`, if it is one.
    pub fn from_word(word: &str) -> Option<ServiceKind> {
        ServiceKind::ALL.into_iter().find(|k| k.as_str() == word)
    }

    /// Every kind, in the order the format documents them.
    pub const ALL: [ServiceKind; 8] = [
        ServiceKind::Station,
        ServiceKind::LoadBalancer,
        ServiceKind::Api,
        ServiceKind::Cache,
        ServiceKind::Database,
        ServiceKind::Queue,
        ServiceKind::Worker,
        ServiceKind::External,
    ];

    /// Whether the service runs on replicated machines (`api`, `worker`,
    /// `database`).
    pub fn is_replicated(self) -> bool {
        matches!(
            self,
            ServiceKind::Api | ServiceKind::Worker | ServiceKind::Database
        )
    }
}

/// The role of a station within its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The service's own station: where requests to it arrive.
    Entry,
    /// Opening a connection of a database's pool: a delay that never queues.
    Connect,
    /// The serial fraction of a replica's CPU demand, on a one-server lock
    /// shared by the replica (Amdahl's law).
    Serial,
    /// A replica's processors (a plain station's or a cache's servers).
    Cpu,
    /// A replica's disk.
    Disk,
    /// A replica's network card.
    Net,
    /// A layer 7 balancer's choice of target, after its CPU.
    Dispatch,
    /// The `k`-th call point of a replica's chain.
    Call(u32),
    /// A call's network latency before its callee.
    Hop,
    /// A replica's link, shared by its calls' payloads.
    Link,
    /// A payload's transfer over the link, before its call.
    Send,
    /// The station that picks a stripe of lock `k` (or its only stripe).
    Lock(u32),
    /// Stripe `s` of lock `k`.
    Stripe(u32, u32),
    /// A database's balancer over its read replicas.
    Reads,
    /// A shard's own station, where the requests for its keys arrive.
    Shard(u32),
    /// A sharded service's router: each request to the shard of its key.
    Router,
    /// A sharded service's scatter-gather call to every shard.
    Scatter,
}

/// Where a station of the topology came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The service it belongs to.
    pub service: ServiceId,
    /// The replica it belongs to, if any.
    pub replica: Option<u32>,
    /// Its role in the service.
    pub part: Part,
}

/// A replica of a database with read replicas: the leader takes writes,
/// followers take reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaRole {
    /// Any replica of a service without read replicas.
    Plain,
    /// The database's leader.
    Leader,
    /// One of its read replicas.
    Follower,
}

/// One replica's chain of stations.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaLayout {
    /// Its own stations in the order a request visits them, each with its
    /// part: [`Part::Connect`]?, [`Part::Serial`]?, [`Part::Cpu`],
    /// [`Part::Disk`]?, [`Part::Net`]? (or a balancer's CPU then its
    /// [`Part::Dispatch`]).
    pub own: Vec<(Part, StationId)>,
    /// Its call points, in order (the same calls in every replica).
    pub calls: Vec<StationId>,
    /// Its part in replication.
    pub role: ReplicaRole,
}

impl ReplicaLayout {
    /// The first station a request visits (where the replica's workers or
    /// connections are taken).
    pub fn head(&self) -> StationId {
        self.own[0].1
    }

    /// The last station a request visits (where they are given back).
    pub fn last(&self) -> StationId {
        self.calls
            .last()
            .copied()
            .unwrap_or_else(|| self.own[self.own.len() - 1].1)
    }

    /// The station with `part`, if the replica has one.
    pub fn part(&self, part: Part) -> Option<StationId> {
        self.own.iter().find(|(p, _)| *p == part).map(|&(_, s)| s)
    }

    /// Its processors: every replica has them.
    pub fn cpu(&self) -> StationId {
        self.part(Part::Cpu)
            .expect("every replica's chain has its CPU")
    }

    /// Every station of the chain, in the order a request visits them.
    pub fn stations(&self) -> impl Iterator<Item = StationId> + '_ {
        self.own
            .iter()
            .map(|&(_, s)| s)
            .chain(self.calls.iter().copied())
    }
}

/// One call of a service's chains: the same in every replica.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSite {
    /// How reports name it: the callee, `parallel(a, b)`, `fanout(shard×16)`,
    /// `send(q)`, `lock NAME`.
    pub label: String,
    /// Its call point in each replica, by replica.
    pub at: Vec<StationId>,
}

/// A lock a service's requests hold: the station that picks a stripe (or
/// the only stripe) and its stripes.
#[derive(Clone, Debug, PartialEq)]
pub struct LockLayout {
    /// The lock's name.
    pub name: String,
    /// Its first station.
    pub head: StationId,
    /// Its stripes, one holder each.
    pub stripes: Vec<StationId>,
}

/// One shard of a sharded service: its own replicas (and read replicas).
#[derive(Clone, Debug, PartialEq)]
pub struct ShardLayout {
    /// Where the requests for its keys arrive (a balancer over its
    /// replicas, or the station that sends writes to its leader and reads
    /// to its followers).
    pub entry: StationId,
    /// Its replicas, as indices into [`ServiceLayout::replicas`].
    pub replicas: std::ops::Range<usize>,
    /// Its balancer over its read replicas.
    pub reads: Option<StationId>,
}

/// What a service became.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceLayout {
    /// Its id.
    pub id: ServiceId,
    /// Its name (its own station has this name).
    pub name: String,
    /// Its kind.
    pub kind: ServiceKind,
    /// Its own station, where requests to it arrive.
    pub entry: StationId,
    /// Its replicas' chains; empty for a service that is its own station
    /// alone.
    pub replicas: Vec<ReplicaLayout>,
    /// Its calls, in the order of its chains.
    pub calls: Vec<CallSite>,
    /// Its calls' network hops, links and payload sends (their time counts
    /// in the calls').
    pub hops: Vec<StationId>,
    /// A database's balancer over its read replicas.
    pub reads: Option<StationId>,
    /// A sharded service's shards (empty when it is not split); its
    /// `entry` then routes by key, or scatters.
    pub shards: Vec<ShardLayout>,
    /// A sharded service's router by key and its scatter-gather call point,
    /// when they are not its entry itself.
    pub routers: Vec<StationId>,
    /// Its locks, shared by its replicas.
    pub locks: Vec<LockLayout>,
    /// The machine its replicas run on (an `api`, `worker` or `database`
    /// with a `profile`, or a layer 7 balancer).
    pub profile: Option<Profile>,
    /// Dollars per hour: replicas × the profile's price (for an
    /// autoscaled service, its replicas at the start: the report prices
    /// the replica-hours it used).
    pub cost_per_hour: f64,
    /// Its replicas' CPUs collect garbage.
    pub gc: bool,
    /// Its autoscaler; its `replicas` are then every replica it may run.
    pub autoscaler: Option<Scaled>,
}

/// An autoscaled service's autoscaler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scaled {
    /// Its index in the topology's autoscalers (and the run's statistics').
    pub index: usize,
    /// Fewest replicas it runs: those numbered below are always ready.
    pub min: u32,
}

impl ServiceLayout {
    /// Whether the service was lowered into several stations, and is
    /// reported as a whole rather than as its one station.
    pub fn is_compound(&self) -> bool {
        !self.replicas.is_empty()
    }

    /// The shard that replica `replica` (an index into `replicas`) belongs
    /// to; `None` when the service is not split.
    pub fn shard_of_replica(&self, replica: u32) -> Option<u32> {
        let r = replica as usize;
        self.shards
            .iter()
            .position(|s| s.replicas.contains(&r))
            .map(|s| s as u32)
    }

    /// Its read replicas.
    pub fn followers(&self) -> u32 {
        self.replicas
            .iter()
            .filter(|r| r.role == ReplicaRole::Follower)
            .count() as u32
    }

    /// Whether its chains start by opening connections (a database's pool).
    pub fn connects(&self) -> bool {
        self.replicas
            .first()
            .is_some_and(|r| r.part(Part::Connect).is_some())
    }

    /// Every station it was lowered into: its own, its replicas' chains,
    /// hops, read balancer and locks.
    pub fn stations(&self) -> impl Iterator<Item = StationId> + '_ {
        std::iter::once(self.entry)
            .chain(self.replicas.iter().flat_map(ReplicaLayout::stations))
            .chain(self.hops.iter().copied())
            .chain(self.reads)
            .chain(
                self.shards
                    .iter()
                    .flat_map(|s| std::iter::once(s.entry).chain(s.reads)),
            )
            .chain(self.routers.iter().copied())
            .chain(
                self.locks
                    .iter()
                    .flat_map(|l| std::iter::once(l.head).chain(l.stripes.iter().copied())),
            )
    }
}
