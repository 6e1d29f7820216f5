//! Services: the catalogue entry, its dependencies, incidents and changes.

use super::*;

/// One level of a service's escalation policy (level 0 is paged at trigger).
#[derive(SimpleObject, Clone, Debug)]
pub struct EscalationLevel {
    /// Who is paged.
    pub target: String,
    /// Seconds without acknowledgement before the next level is paged.
    pub ack_timeout_seconds: u32,
}

/// A service of the catalogue (reached from an entity of `incidentAsOf`/`changeAsOf`,
/// it and its links are as of the same point).
#[derive(Clone, Debug)]
pub struct Service(pub ServiceView, pub Source);

impl Service {
    /// The service `id` from the read models.
    pub fn load(m: &ReadModels, id: ServiceId) -> Option<Service> {
        Service::load_at(m, id, &Source::Live)
    }

    /// The service `id` from the read models of `source` (its links resolve there).
    pub fn load_at(m: &ReadModels, id: ServiceId, source: &Source) -> Option<Service> {
        m.services
            .get(id)
            .cloned()
            .map(|v| Service(v, source.clone()))
    }

    /// The service `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: ServiceId) -> Option<Service> {
        handle.read(|m| Service::load(m, id))
    }
}

impl From<ServiceView> for Service {
    /// A live service (links resolve against the current read models).
    fn from(view: ServiceView) -> Self {
        Service(view, Source::Live)
    }
}

#[Object]
impl Service {
    /// Service id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// Unique name.
    async fn name(&self) -> &str {
        &self.0.profile.name
    }
    /// Owning team.
    async fn owner_team(&self) -> &str {
        &self.0.profile.owner_team
    }
    /// Tier 1 (most critical) to 3.
    async fn tier(&self) -> u8 {
        self.0.profile.tier.get()
    }
    /// Free text.
    async fn description(&self) -> &str {
        &self.0.profile.description
    }
    /// Runbook link.
    async fn runbook_url(&self) -> Option<&str> {
        self.0.profile.runbook_url.as_deref()
    }
    /// SLO target in percent (e.g. 99.9).
    async fn slo_target_percent(&self) -> f64 {
        self.0.profile.slo_target.as_percent()
    }
    /// Recovery time objective, seconds (0 = none).
    async fn rto_seconds(&self) -> u64 {
        self.0.profile.rto_secs
    }
    /// Recovery point objective, seconds (0 = none).
    async fn rpo_seconds(&self) -> u64 {
        self.0.profile.rpo_secs
    }
    /// Escalation policy levels in order.
    async fn escalation_policy(&self) -> Vec<EscalationLevel> {
        self.0
            .profile
            .escalation_policy
            .levels
            .iter()
            .map(|l| EscalationLevel {
                target: l.target.clone(),
                ack_timeout_seconds: l.ack_timeout_secs,
            })
            .collect()
    }
    /// Whether it is retired.
    async fn retired(&self) -> bool {
        self.0.retired
    }
    /// When it was registered.
    async fn registered_at(&self) -> DateTime {
        dt(self.0.registered_at)
    }
    /// When its profile last changed.
    async fn updated_at(&self) -> DateTime {
        dt(self.0.updated_at)
    }
    /// When it was retired.
    async fn retired_at(&self) -> Option<DateTime> {
        self.0.retired_at.map(dt)
    }
    /// Stream version of its last event (what `expectedVersion` takes).
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// Ids of the services it depends on.
    async fn dependency_ids(&self) -> Vec<ID> {
        self.0
            .profile
            .dependencies
            .iter()
            .map(|&s| gid(s))
            .collect()
    }
    /// The services it depends on (direct).
    async fn dependencies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        load_many(ctx, &self.1, &self.0.profile.dependencies, Service::load_at)
    }
    /// The services depending on it directly.
    async fn dependents(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        let id = self.0.id;
        Ok(self.1.read(ctx, |m| {
            m.services
                .all()
                .filter(|s| s.profile.dependencies.contains(&id))
                .cloned()
                .map(|s| Service(s, self.1.clone()))
                .collect()
        })?)
    }
    /// Every service that depends on it, transitively (hit if it fails).
    async fn downstream_impact(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        let id = self.0.id;
        Ok(self.1.read(ctx, |m| {
            m.services
                .downstream_impact(id)
                .into_iter()
                .filter_map(|s| Service::load_at(m, s, &self.1))
                .collect()
        })?)
    }
    /// Active incidents impacting it directly.
    async fn active_incidents(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Incident>> {
        let id = self.0.id;
        Ok(self.1.read(ctx, |m| {
            m.incidents
                .active()
                .filter(|i| i.impacts.iter().any(|x| x.service == id))
                .cloned()
                .map(|i| Incident(i, self.1.clone()))
                .collect()
        })?)
    }
}
