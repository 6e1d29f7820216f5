//! The services read model (CMDB-lite): profiles, the name index and the
//! dependency graph with downstream impact.

use std::collections::BTreeMap;

use opsledger_domain::service::{ServiceEvent, ServiceProfile, Tier};
use opsledger_domain::{ServiceId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::graph::DependencyGraph;
use crate::pagination::{paginate, Page, PageRequest};
use crate::projection::EventMeta;
use crate::ProjectionError;

/// A service as the read side shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    /// The service.
    pub id: ServiceId,
    /// Its current description.
    pub profile: ServiceProfile,
    /// Whether it is retired.
    pub retired: bool,
    /// When it was registered.
    pub registered_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it was retired, if it was.
    pub retired_at: Option<Timestamp>,
    /// Stream version of its last event.
    pub version: u64,
}

/// Which services a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceFilter {
    /// Only services of this owner team.
    pub owner_team: Option<String>,
    /// Only services of this tier.
    pub tier: Option<Tier>,
    /// Include retired services.
    pub include_retired: bool,
    /// Only names containing this text (case-insensitive).
    pub name_contains: Option<String>,
}

impl ServiceFilter {
    fn matches(&self, s: &ServiceView) -> bool {
        (self.include_retired || !s.retired)
            && self
                .owner_team
                .as_ref()
                .is_none_or(|t| &s.profile.owner_team == t)
            && self.tier.is_none_or(|t| s.profile.tier == t)
            && self
                .name_contains
                .as_ref()
                .is_none_or(|n| s.profile.name.to_lowercase().contains(&n.to_lowercase()))
    }
}

/// Every service, by id and by name, and their dependency graph.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServicesModel {
    by_id: BTreeMap<ServiceId, ServiceView>,
    by_name: BTreeMap<String, ServiceId>,
    graph: DependencyGraph,
}

impl ServicesModel {
    /// Folds one service event.
    pub fn apply(&mut self, meta: &EventMeta<'_>, event: &ServiceEvent) -> Result<(), ApplyError> {
        match event {
            ServiceEvent::Registered(e) => {
                self.set_profile(e.id, &e.profile);
                self.by_id.insert(
                    e.id,
                    ServiceView {
                        id: e.id,
                        profile: e.profile.clone(),
                        retired: false,
                        registered_at: e.at,
                        updated_at: e.at,
                        retired_at: None,
                        version: meta.stream_version,
                    },
                );
            }
            ServiceEvent::Updated(e) => {
                if !self.by_id.contains_key(&e.id) {
                    return Err(unknown(meta));
                }
                self.set_profile(e.id, &e.profile);
                if let Some(view) = self.by_id.get_mut(&e.id) {
                    view.profile = e.profile.clone();
                    view.updated_at = e.at;
                    view.version = meta.stream_version;
                }
            }
            ServiceEvent::Retired(e) => {
                let view = self.by_id.get_mut(&e.id).ok_or_else(|| unknown(meta))?;
                view.retired = true;
                view.retired_at = Some(e.at);
                view.updated_at = e.at;
                view.version = meta.stream_version;
                self.graph.remove(e.id);
            }
        }
        Ok(())
    }

    fn set_profile(&mut self, id: ServiceId, profile: &ServiceProfile) {
        if let Some(old) = self.by_id.get(&id) {
            if old.profile.name != profile.name {
                self.by_name.remove(&old.profile.name);
            }
        }
        self.by_name.insert(profile.name.clone(), id);
        self.graph.set_dependencies(id, &profile.dependencies);
    }

    /// One service.
    pub fn get(&self, id: ServiceId) -> Option<&ServiceView> {
        self.by_id.get(&id)
    }

    /// The service with this exact name (the uniqueness index; retired ones keep their name).
    pub fn by_name(&self, name: &str) -> Option<&ServiceView> {
        self.by_name.get(name).and_then(|id| self.by_id.get(id))
    }

    /// Every service, by id.
    pub fn all(&self) -> impl Iterator<Item = &ServiceView> {
        self.by_id.values()
    }

    /// The dependency graph of the active services.
    pub fn graph(&self) -> &DependencyGraph {
        &self.graph
    }

    /// The graph without `exclude`, as the domain's service commands want it.
    pub fn dependency_graph_without(
        &self,
        exclude: Option<ServiceId>,
    ) -> BTreeMap<ServiceId, Vec<ServiceId>> {
        let mut g = self.graph.as_map().clone();
        if let Some(id) = exclude {
            g.remove(&id);
        }
        g
    }

    /// Services impacted downstream if `id` is impacted (transitive dependents).
    pub fn downstream_impact(&self, id: ServiceId) -> Vec<ServiceId> {
        self.graph.downstream_of(id)
    }

    /// A page of services sorted by name.
    pub fn list(
        &self,
        filter: &ServiceFilter,
        page: &PageRequest,
    ) -> Result<Page<ServiceView>, ProjectionError> {
        let items = self
            .by_name
            .values()
            .filter_map(|id| self.by_id.get(id))
            .filter(|s| filter.matches(s));
        let page = paginate(items, |s| (s.profile.name.clone(), s.id.0 .0), false, page)?;
        Ok(page.map(Clone::clone))
    }
}

fn unknown(meta: &EventMeta<'_>) -> ApplyError {
    ApplyError::UnknownEntity {
        kind: "service",
        stream_id: meta.stream_id.to_owned(),
    }
}
