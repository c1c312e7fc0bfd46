//! The second phase: names to ids.
//!
//! Every reference read as a [`Name`] (a class's entry, a route, a call's
//! callees, a balancer's targets, a worker's queue) becomes a [`ServiceId`],
//! or a diagnostic with a suggestion. What a reference means can depend on
//! the kind of service it names, and is checked here: a call to a queue is a
//! send (which awaits no reply), a worker consumes a queue, and a queue
//! has exactly one worker. Every reference the reader met is checked, even
//! in a table with other errors, so that each mistake is reported at once;
//! the services read without error get their resolved references beside
//! their other keys, in [`Links`].

use std::ops::Range;

use chokepoint_core::dist::Dist;
use chokepoint_core::model::{Breaker, Hedge, Retry, StationId, Timeout};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::layout::{ServiceId, ServiceKind};
use crate::read::{
    CallDef, CallId, Document, KindDef, Name, QueueId, Recorded, RouteDef, ServiceDef, Targets,
};

/// Where a class goes after a visit: next services and probabilities.
pub(crate) type Route = Vec<(ServiceId, f64)>;

/// Whom a call reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Callee {
    /// A service, at its own station.
    Service(ServiceId),
    /// A station of the caller's own service (one of its locks).
    Station(StationId),
}

/// One entry of a `calls` list, resolved.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CallEntry {
    /// The callee of each branch.
    pub(crate) targets: Vec<Callee>,
    /// How reports name it: the callee, `parallel(a, b)`, `fanout(s×16)`,
    /// `send(q)`.
    pub(crate) label: String,
    /// Replies awaited (0: a send, which awaits none).
    pub(crate) wait: u32,
    /// Probability that the call is made.
    pub(crate) p: f64,
    /// Repetitions, one after the other.
    pub(crate) n: u32,
    /// Network time added to each call.
    pub(crate) latency: Option<Dist>,
    /// Bytes sent with each call, over the caller's link.
    pub(crate) bytes: Option<f64>,
    /// Its timeout per attempt.
    pub(crate) timeout: Option<Timeout>,
    /// Its retry policy.
    pub(crate) retry: Option<Retry>,
    /// Its hedging policy.
    pub(crate) hedge: Option<Hedge>,
    /// Its circuit breaker.
    pub(crate) breaker: Option<Breaker>,
    /// Where it is written.
    pub(crate) span: Range<usize>,
}

/// A service's calls, per class: `None` for a class that never visits it.
pub(crate) type PerClass = Vec<Option<Vec<CallEntry>>>;

/// A service's references, resolved.
#[derive(Debug, Default)]
pub(crate) struct Links {
    /// Per class: where it goes next (a station, a cache, a replicated service).
    pub(crate) next: Vec<Route>,
    /// Per class: the calls it makes.
    pub(crate) calls: PerClass,
    /// A cache's fetch.
    pub(crate) on_miss: Vec<CallEntry>,
    /// A balancer's targets.
    pub(crate) targets: Vec<ServiceId>,
    /// A worker's queue.
    pub(crate) queue: Option<ServiceId>,
    /// A queue's consumer: the worker that names it.
    pub(crate) consumer: Option<ServiceId>,
}

/// Resolves every reference of `doc`, reporting each unknown name and each
/// reference that does not fit the kind it names. Returns each class's
/// entry and each service's links (`None` where something failed).
pub(crate) fn resolve(
    doc: &Document,
    read: &Recorded,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Option<ServiceId>>, Vec<Option<Links>>) {
    let mut r = Resolver {
        services: &doc.services,
        diags,
        calls: Vec::new(),
        queues: Vec::new(),
    };
    // Every reference read, once.
    for name in &read.names {
        r.check(name);
    }
    r.calls = read.calls.iter().map(|c| r.call(c)).collect();
    r.queues = read
        .queues
        .iter()
        .map(|q| match r.lookup(&q.name) {
            Some(id) if r.kind(id) == Some(ServiceKind::Queue) => {
                if q.concurrency == Some(false) {
                    r.error(
                        format!(
                            "worker `{}` consumes a queue, so it needs `concurrency`, its consumers per replica",
                            q.worker
                        ),
                        q.worker_span.clone(),
                    );
                    None
                } else {
                    q.concurrency.map(|_| id)
                }
            }
            Some(id) => {
                let queue = r.services[id.idx()].name.clone();
                r.error(
                    format!("`{queue}` is not a queue (kind = \"queue\")"),
                    q.name.span.clone(),
                );
                None
            }
            None => None,
        })
        .collect();
    // What was read without error: its references, resolved.
    let entries = doc
        .classes
        .iter()
        .map(|c| c.def.as_ref().and_then(|c| r.lookup(&c.entry)))
        .collect();
    let mut links: Vec<Option<Links>> = doc
        .services
        .iter()
        .map(|s| s.def.as_ref().and_then(|def| r.links(def)))
        .collect();
    r.consumers(read, &mut links);
    (entries, links)
}

struct Resolver<'r> {
    services: &'r [ServiceDef],
    diags: &'r mut Vec<Diagnostic>,
    /// Every call read, checked (`None`: it had an error).
    calls: Vec<Option<CallEntry>>,
    /// Every worker's queue read, checked.
    queues: Vec<Option<ServiceId>>,
}

impl Resolver<'_> {
    fn error(&mut self, message: impl Into<String>, span: Range<usize>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(message, Some(span)));
        self.diags.last_mut().expect("just pushed")
    }

    /// The service `name` names, if there is one.
    fn lookup(&self, name: &Name) -> Option<ServiceId> {
        self.services
            .iter()
            .position(|s| s.name == name.text)
            .map(|i| ServiceId(i as u32))
    }

    /// Reports `name` if no service has it, with a suggestion.
    fn check(&mut self, name: &Name) {
        if self.lookup(name).is_some() {
            return;
        }
        let services = self.services;
        let d = self.error(
            format!("unknown service `{}` in {}", name.text, name.what),
            name.span.clone(),
        );
        d.label = Some("no [services] table has this name".into());
        d.help = match did_you_mean(&name.text, services.iter().map(|s| s.name.as_str())) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None if services.is_empty() => Some("declare it as a [services.NAME] table".into()),
            None => Some(format!(
                "services are: {}",
                services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
    }

    fn kind(&self, id: ServiceId) -> Option<ServiceKind> {
        self.services[id.idx()].kind
    }

    /// A route: every name resolved, or `None` after reporting each unknown.
    fn route(&self, route: &RouteDef) -> Option<Route> {
        let next: Vec<Option<(ServiceId, f64)>> = route
            .next
            .iter()
            .map(|(to, p)| self.lookup(to).map(|id| (id, *p)))
            .collect();
        next.into_iter().collect()
    }

    /// A `calls` list, as checked.
    fn calls(&self, calls: &[CallId]) -> Option<Vec<CallEntry>> {
        calls.iter().map(|c| self.calls[c.0].clone()).collect()
    }

    /// One call, checked against its callees' kinds: a call to queues is a
    /// send, which awaits no reply and has no network cost of ours; a
    /// parallel call cannot mix the two. `None` when it has an error.
    fn call(&mut self, call: &CallDef) -> Option<CallEntry> {
        let ids: Option<Vec<ServiceId>> = call
            .targets
            .as_ref()
            .and_then(|t| t.branches().iter().map(|n| self.lookup(n)).collect());
        if let Some(targets) = &ids {
            let queues = targets
                .iter()
                .filter(|&&id| self.kind(id) == Some(ServiceKind::Queue))
                .count();
            if queues == targets.len() {
                if let Some((_, at)) = &call.wait {
                    self.error(
                        "a message sent to a queue awaits no reply: drop `wait`",
                        at.clone(),
                    );
                    return None;
                }
                for (key, at) in [
                    ("latency", call.latency.as_ref().map(|l| &l.1)),
                    ("bytes", call.bytes.as_ref().map(|b| &b.1)),
                    ("timeout", call.timeout.as_ref().map(|t| &t.1)),
                    ("retry", call.retry.as_ref().map(|r| &r.1)),
                    ("hedge", call.hedge.as_ref().map(|h| &h.1)),
                    ("breaker", call.breaker.as_ref().map(|b| &b.1)),
                ] {
                    if let Some(at) = at {
                        self.error(
                            format!("`{key}` is not supported on a send to a queue"),
                            at.clone(),
                        )
                        .help = Some(
                            "a message to a queue awaits no reply: it is sent and the caller goes on"
                                .into(),
                        );
                        return None;
                    }
                }
                let label = call.targets.as_ref().map(Targets::label)?;
                return Some(CallEntry {
                    targets: targets.iter().copied().map(Callee::Service).collect(),
                    label: format!(
                        "send({})",
                        label.trim_start_matches("parallel(").trim_end_matches(')')
                    ),
                    wait: 0,
                    p: call.p?,
                    n: call.n?,
                    latency: None,
                    bytes: None,
                    timeout: None,
                    retry: None,
                    hedge: None,
                    breaker: None,
                    span: call.span.clone(),
                });
            }
            if queues > 0 {
                self.error(
                    "a parallel call mixes queues (sends) and services (calls); make them two entries",
                    call.span.clone(),
                );
                return None;
            }
        }
        let wait = match (&call.wait, &ids) {
            (None, Some(targets)) => Some(targets.len() as u32),
            (None, None) => None,
            (Some((_, at)), _) if call.only_to => {
                self.error(
                    "`wait` applies to `parallel` and `fanout` calls",
                    at.clone(),
                );
                return None;
            }
            (Some((Some(w), at)), Some(targets)) if *w as usize > targets.len() => {
                self.error(
                    format!(
                        "`wait` is {w}, but the call has {} branch(es)",
                        targets.len()
                    ),
                    at.clone(),
                );
                return None;
            }
            (Some((w, _)), _) => *w,
        };
        if let Some((_, at)) = &call.hedge
            && !call.only_to
        {
            self.error(
                "`hedge` applies to a call to one service (`to`)",
                at.clone(),
            )
            .help = Some(
                "a parallel call already waits for the first `wait` replies of several".into(),
            );
            return None;
        }
        if !call.complete() {
            return None;
        }
        Some(CallEntry {
            targets: ids?.into_iter().map(Callee::Service).collect(),
            label: call.targets.as_ref().map(Targets::label)?,
            wait: wait?,
            p: call.p?,
            n: call.n?,
            latency: call.latency.as_ref().and_then(|l| l.0.clone()),
            bytes: call.bytes.as_ref().and_then(|b| b.0),
            timeout: call.timeout.as_ref().and_then(|t| t.0.clone()),
            retry: call.retry.as_ref().and_then(|r| r.0.clone()),
            hedge: call.hedge.as_ref().and_then(|h| h.0),
            breaker: call.breaker.as_ref().and_then(|b| b.0),
            span: call.span.clone(),
        })
    }

    /// Per class: each class's calls resolved (`None` stays `None`).
    fn per_class(&self, calls: &[Option<Vec<CallId>>]) -> Option<PerClass> {
        let resolved: Vec<Option<Option<Vec<CallEntry>>>> = calls
            .iter()
            .map(|c| match c {
                Some(list) => self.calls(list).map(Some),
                None => Some(None),
            })
            .collect();
        resolved.into_iter().collect()
    }

    fn routes(&self, next: &[RouteDef]) -> Option<Vec<Route>> {
        let resolved: Vec<Option<Route>> = next.iter().map(|r| self.route(r)).collect();
        resolved.into_iter().collect()
    }

    /// A service's links, once its own references resolve.
    fn links(&self, def: &KindDef) -> Option<Links> {
        match def {
            KindDef::Station(s) => {
                let next = self.routes(&s.next);
                let calls = self.per_class(&s.calls);
                let on_miss = match &s.cache {
                    Some(c) => self.calls(&c.on_miss),
                    None => Some(Vec::new()),
                };
                Some(Links {
                    next: next?,
                    calls: calls?,
                    on_miss: on_miss?,
                    ..Links::default()
                })
            }
            KindDef::LoadBalancer(b) => {
                let targets: Vec<Option<ServiceId>> =
                    b.targets.iter().map(|t| self.lookup(t)).collect();
                Some(Links {
                    targets: targets.into_iter().collect::<Option<_>>()?,
                    ..Links::default()
                })
            }
            KindDef::Queue(_) | KindDef::External(_) => Some(Links::default()),
            KindDef::Replicated(r) => {
                let queue = match r.queue {
                    Some(QueueId(q)) => self.queues[q].map(Some),
                    None => Some(None),
                };
                let next = self.routes(&r.next);
                let calls = self.per_class(&r.calls);
                Some(Links {
                    next: next?,
                    calls: calls?,
                    queue: queue?,
                    ..Links::default()
                })
            }
        }
    }

    /// Each queue's worker: exactly one must name it.
    fn consumers(&mut self, read: &Recorded, links: &mut [Option<Links>]) {
        // (queue, worker, where the worker names it)
        let mut named: Vec<(ServiceId, ServiceId, Range<usize>)> = Vec::new();
        for (w, service) in self.services.iter().enumerate() {
            let Some(l) = links[w].as_ref() else { continue };
            if let Some(KindDef::Replicated(r)) = &service.def
                && let Some(q) = l.queue
            {
                let span = r.queue.map_or(service.key_span.clone(), |q| {
                    read.queues[q.0].name.span.clone()
                });
                named.push((q, ServiceId(w as u32), span));
            }
        }
        for (qi, service) in self.services.iter().enumerate() {
            let Some(KindDef::Queue(_)) = service.def else {
                continue;
            };
            let q = ServiceId(qi as u32);
            let mine: Vec<&(ServiceId, ServiceId, Range<usize>)> =
                named.iter().filter(|c| c.0 == q).collect();
            match mine.as_slice() {
                [] => {
                    self.error(
                        format!("queue `{}` has no worker consuming it", service.name),
                        service.key_span.clone(),
                    )
                    .help = Some(format!(
                        "add a service with kind = \"worker\", queue = \"{}\" and its `concurrency`",
                        service.name
                    ));
                }
                [(_, w, _)] => {
                    if let Some(l) = links[qi].as_mut() {
                        l.consumer = Some(*w);
                    }
                }
                [_, (_, _, span), ..] => {
                    self.error(
                        format!("queue `{}` already has a worker consuming it", service.name),
                        span.clone(),
                    )
                    .help = Some(
                        "one worker service consumes a queue; give it more replicas or concurrency"
                            .into(),
                    );
                }
            }
        }
    }
}
