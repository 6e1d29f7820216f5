//! The service dependency graph and downstream-impact propagation.

use opsledger_domain::ServiceId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Service → the services it depends on, plus the reverse edges.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyGraph {
    dependencies: BTreeMap<ServiceId, Vec<ServiceId>>,
    dependents: BTreeMap<ServiceId, BTreeSet<ServiceId>>,
}

impl DependencyGraph {
    /// Replaces the dependencies of `service`.
    pub fn set_dependencies(&mut self, service: ServiceId, deps: &[ServiceId]) {
        self.remove(service);
        for dep in deps {
            self.dependents.entry(*dep).or_default().insert(service);
        }
        self.dependencies.insert(service, deps.to_vec());
    }

    /// Removes `service`'s outgoing edges (it no longer depends on anything).
    pub fn remove(&mut self, service: ServiceId) {
        if let Some(old) = self.dependencies.remove(&service) {
            for dep in old {
                if let Some(set) = self.dependents.get_mut(&dep) {
                    set.remove(&service);
                    if set.is_empty() {
                        self.dependents.remove(&dep);
                    }
                }
            }
        }
    }

    /// The direct dependencies of `service`.
    pub fn dependencies_of(&self, service: ServiceId) -> &[ServiceId] {
        self.dependencies
            .get(&service)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The services that depend directly on `service`.
    pub fn dependents_of(&self, service: ServiceId) -> impl Iterator<Item = ServiceId> + '_ {
        self.dependents
            .get(&service)
            .into_iter()
            .flat_map(|s| s.iter().copied())
    }

    /// The whole graph as service → dependencies (the shape the domain's
    /// service commands take).
    pub fn as_map(&self) -> &BTreeMap<ServiceId, Vec<ServiceId>> {
        &self.dependencies
    }

    /// Every service that depends on `root`, directly or transitively
    /// (not `root` itself), in breadth-first order. Safe on cycles.
    pub fn downstream_of(&self, root: ServiceId) -> Vec<ServiceId> {
        let mut seen = BTreeSet::from([root]);
        let mut queue = VecDeque::from([root]);
        let mut out = Vec::new();
        while let Some(s) = queue.pop_front() {
            for d in self.dependents_of(s) {
                if seen.insert(d) {
                    out.push(d);
                    queue.push_back(d);
                }
            }
        }
        out
    }

    /// For every service downstream of one of `roots`, the roots it is
    /// impacted through (sorted). Roots themselves are not included unless
    /// they are downstream of another root.
    pub fn propagate(
        &self,
        roots: impl IntoIterator<Item = ServiceId>,
    ) -> BTreeMap<ServiceId, BTreeSet<ServiceId>> {
        let mut impact: BTreeMap<ServiceId, BTreeSet<ServiceId>> = BTreeMap::new();
        for root in roots {
            for s in self.downstream_of(root) {
                impact.entry(s).or_default().insert(root);
            }
        }
        impact
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    fn sid(n: u128) -> ServiceId {
        ServiceId::new(Ulid(n))
    }

    #[test]
    fn downstream_follows_dependents_transitively() {
        // web -> api -> db ; batch -> db
        let mut g = DependencyGraph::default();
        g.set_dependencies(sid(3), &[sid(2)]);
        g.set_dependencies(sid(2), &[sid(1)]);
        g.set_dependencies(sid(4), &[sid(1)]);
        assert_eq!(g.downstream_of(sid(1)), vec![sid(2), sid(4), sid(3)]);
        assert_eq!(g.downstream_of(sid(3)), Vec::<ServiceId>::new());
    }

    #[test]
    fn replacing_dependencies_drops_old_reverse_edges() {
        let mut g = DependencyGraph::default();
        g.set_dependencies(sid(2), &[sid(1)]);
        g.set_dependencies(sid(2), &[sid(5)]);
        assert_eq!(g.downstream_of(sid(1)), Vec::<ServiceId>::new());
        assert_eq!(g.downstream_of(sid(5)), vec![sid(2)]);
    }

    #[test]
    fn propagation_names_every_root_and_survives_cycles() {
        let mut g = DependencyGraph::default();
        g.set_dependencies(sid(2), &[sid(1), sid(3)]);
        g.set_dependencies(sid(1), &[sid(2)]); // a cycle the domain would reject
        let impact = g.propagate([sid(3)]);
        assert_eq!(impact.get(&sid(2)), Some(&BTreeSet::from([sid(3)])));
        assert_eq!(impact.get(&sid(1)), Some(&BTreeSet::from([sid(3)])));
        assert_eq!(impact.len(), 2);
    }
}
