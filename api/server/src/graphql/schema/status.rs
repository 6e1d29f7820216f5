//! The public status page: the `statusPage` query and subscription (no token
//! needed). Only public data: service names and health, active incidents with
//! their public updates, scheduled maintenance. The subscription sends the page
//! at once, then again whenever the read models move and the page differs
//! from the last one sent.

use super::types::{
    dt, gid, projections, ImpactLevel, IncidentStatus, Projections, ServiceHealth, Severity,
    TimeWindow,
};
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, Object, SimpleObject, Subscription, ID};
use futures::Stream;
use opsledger_domain::ServiceId;
use opsledger_projections::status as page;
use opsledger_projections::status_page;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::watch;

/// A service named on the status page.
#[derive(SimpleObject, Clone, Debug)]
pub struct ServiceRef {
    /// Service id.
    pub id: ID,
    /// Service name.
    pub name: String,
}

/// One service's line on the status page.
#[derive(SimpleObject, Clone, Debug)]
pub struct ServiceStatus {
    /// Service id.
    pub id: ID,
    /// Service name.
    pub name: String,
    /// What is shown: the worst of its own health and propagated impact.
    pub health: ServiceHealth,
    /// Its own health from its incidents and maintenance alone.
    pub own_health: ServiceHealth,
    /// Impacted upstream services it depends on (why it shows degraded).
    pub impacted_via: Vec<ServiceRef>,
    /// Ids of the active incidents impacting it directly.
    pub incident_ids: Vec<ID>,
    /// Ids of the changes in progress on it.
    pub maintenance_change_ids: Vec<ID>,
}

/// A public status update.
#[derive(SimpleObject, Clone, Debug)]
pub struct PublicUpdate {
    /// When.
    pub at: DateTime,
    /// The incident's status then.
    pub status: IncidentStatus,
    /// The message.
    pub message: String,
}

/// The impact of a public incident on one service.
#[derive(SimpleObject, Clone, Debug)]
pub struct PublicImpact {
    /// The service.
    pub service: ServiceRef,
    /// How badly.
    pub level: ImpactLevel,
}

/// An active incident as the public sees it.
#[derive(SimpleObject, Clone, Debug)]
pub struct PublicIncident {
    /// Incident id.
    pub id: ID,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: IncidentStatus,
    /// Impacted services.
    pub impacts: Vec<PublicImpact>,
    /// When the impact started.
    pub started_at: DateTime,
    /// Public updates, oldest first.
    pub updates: Vec<PublicUpdate>,
}

/// A scheduled change shown as upcoming maintenance.
#[derive(SimpleObject, Clone, Debug)]
pub struct ScheduledMaintenance {
    /// The change's id.
    pub change_id: ID,
    /// Its title.
    pub title: String,
    /// Services it touches.
    pub services: Vec<ServiceRef>,
    /// Its window.
    pub window: TimeWindow,
}

/// The whole public status page.
#[derive(SimpleObject, Clone, Debug)]
pub struct StatusPage {
    /// The worst health of any service.
    pub overall: ServiceHealth,
    /// Every active service, by name.
    pub services: Vec<ServiceStatus>,
    /// Active incidents, oldest first.
    pub active_incidents: Vec<PublicIncident>,
    /// Scheduled changes, by window start.
    pub scheduled_maintenance: Vec<ScheduledMaintenance>,
}

impl From<&page::StatusPage> for StatusPage {
    fn from(p: &page::StatusPage) -> Self {
        let names: BTreeMap<ServiceId, &str> =
            p.services.iter().map(|s| (s.id, s.name.as_str())).collect();
        let service_ref = |id: &ServiceId| ServiceRef {
            id: gid(id),
            name: names
                .get(id)
                .map_or_else(|| id.to_string(), |n| (*n).to_owned()),
        };
        StatusPage {
            overall: p.overall.into(),
            services: p
                .services
                .iter()
                .map(|s| ServiceStatus {
                    id: gid(s.id),
                    name: s.name.clone(),
                    health: s.health.into(),
                    own_health: s.own_health.into(),
                    impacted_via: s.impacted_via.iter().map(service_ref).collect(),
                    incident_ids: s.incidents.iter().map(gid).collect(),
                    maintenance_change_ids: s.maintenance.iter().map(gid).collect(),
                })
                .collect(),
            active_incidents: p
                .active_incidents
                .iter()
                .map(|i| PublicIncident {
                    id: gid(i.id),
                    title: i.title.clone(),
                    severity: i.severity.into(),
                    status: i.status.into(),
                    impacts: i
                        .impacts
                        .iter()
                        .map(|x| PublicImpact {
                            service: service_ref(&x.service),
                            level: x.level.into(),
                        })
                        .collect(),
                    started_at: dt(i.started_at),
                    updates: i
                        .updates
                        .iter()
                        .map(|u| PublicUpdate {
                            at: dt(u.at),
                            status: u.status.into(),
                            message: u.message.clone(),
                        })
                        .collect(),
                })
                .collect(),
            scheduled_maintenance: p
                .scheduled_maintenance
                .iter()
                .map(|m| ScheduledMaintenance {
                    change_id: gid(m.change),
                    title: m.title.clone(),
                    services: m.services.iter().map(service_ref).collect(),
                    window: m.window.into(),
                })
                .collect(),
        }
    }
}

/// The status page as of now.
fn current(handle: &Projections) -> page::StatusPage {
    handle.read(status_page)
}

/// One status page built per projection position and shared by every
/// subscriber. Each subscriber used to rebuild the page itself under the read
/// lock, so 5,000 subscribers meant 5,000 builds per event (the fan-out
/// benchmark's p99 was ~2 s); now one task builds it and a `watch` fans it out.
#[derive(Clone)]
pub struct StatusPageFeed {
    handle: Projections,
    pages: Arc<OnceLock<watch::Receiver<Arc<page::StatusPage>>>>,
}

impl StatusPageFeed {
    /// A feed over the read models; its publisher task starts with the first subscriber.
    pub fn new(handle: Projections) -> Self {
        StatusPageFeed {
            handle,
            pages: Arc::new(OnceLock::new()),
        }
    }

    /// The shared page channel, starting the publisher task on first use.
    fn receiver(&self) -> watch::Receiver<Arc<page::StatusPage>> {
        self.pages
            .get_or_init(|| {
                let (tx, rx) = watch::channel(Arc::new(current(&self.handle)));
                tokio::spawn(publish_pages(self.handle.clone(), tx));
                rx
            })
            .clone()
    }

    /// The page now, then every time the read models move to a different page.
    pub fn stream(&self) -> impl Stream<Item = StatusPage> {
        futures::stream::unfold((self.receiver(), true), |(mut rx, first)| async move {
            if !first && rx.changed().await.is_err() {
                return None; // the publisher stopped with the runner
            }
            let page = rx.borrow_and_update().clone();
            Some((StatusPage::from(&*page), (rx, false)))
        })
    }
}

/// Rebuilds the page after each projection move and publishes it when it differs.
async fn publish_pages(handle: Projections, tx: watch::Sender<Arc<page::StatusPage>>) {
    let mut positions = handle.position_receiver();
    while positions.changed().await.is_ok() {
        positions.borrow_and_update();
        let page = current(&handle);
        tx.send_if_modified(|last| {
            if **last == page {
                return false;
            }
            *last = Arc::new(page);
            true
        });
    }
}

/// The public status page query.
#[derive(Default)]
pub struct StatusQuery;

#[Object]
impl StatusQuery {
    /// The public status page (no token needed).
    async fn status_page(&self, ctx: &Context<'_>) -> async_graphql::Result<StatusPage> {
        Ok(StatusPage::from(&current(projections(ctx)?)))
    }
}

/// The public status page subscription.
#[derive(Default)]
pub struct StatusSubscription;

#[Subscription]
impl StatusSubscription {
    /// The whole status page at once, then again on every change (no token needed).
    async fn status_page(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = StatusPage>> {
        Ok(ctx.data::<StatusPageFeed>()?.stream())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsledger_projections::ServiceHealth as Health;
    use ulid::Ulid;

    fn line(id: ServiceId, name: &str, via: Vec<ServiceId>) -> page::ServiceStatus {
        page::ServiceStatus {
            id,
            name: name.into(),
            health: Health::Degraded,
            own_health: Health::Operational,
            impacted_via: via,
            incidents: vec![],
            maintenance: vec![],
        }
    }

    #[test]
    fn upstream_services_are_named_and_an_unlisted_one_falls_back_to_its_id() {
        let (db, web, gone) = (ServiceId(Ulid(1)), ServiceId(Ulid(2)), ServiceId(Ulid(3)));
        let page = page::StatusPage {
            overall: Health::Degraded,
            services: vec![line(db, "db", vec![]), line(web, "web", vec![db, gone])],
            active_incidents: vec![],
            scheduled_maintenance: vec![],
        };
        let object = StatusPage::from(&page);
        assert_eq!(object.overall, ServiceHealth::Degraded);
        let via: Vec<(String, String)> = object.services[1]
            .impacted_via
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone()))
            .collect();
        assert_eq!(
            via,
            vec![
                (db.to_string(), "db".to_string()),
                (gone.to_string(), gone.to_string())
            ]
        );
        assert_eq!(object.services[1].own_health, ServiceHealth::Operational);
    }
}
