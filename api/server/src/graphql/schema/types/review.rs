//! Post-incident reviews: sections, contributing factors, action items.

use super::*;

/// A contributing factor of an incident.
#[derive(SimpleObject, Clone, Debug)]
pub struct ContributingFactor {
    /// Category.
    pub category: FactorCategory,
    /// Description.
    pub description: String,
}

/// The written sections of a review.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReviewSections {
    /// Summary.
    pub summary: String,
    /// Customer impact.
    pub customer_impact: String,
    /// Root cause.
    pub root_cause: String,
    /// Contributing factors.
    pub contributing_factors: Vec<ContributingFactor>,
    /// What went well.
    pub what_went_well: String,
    /// Lessons learned.
    pub lessons_learned: String,
}

/// One entry of a review's generated timeline.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReviewTimelineEntry {
    /// When.
    pub at: DateTime,
    /// Who.
    pub actor: String,
    /// Event kind.
    pub kind: String,
    /// Summary.
    pub text: String,
}

/// An action item of a review.
#[derive(Clone, Debug)]
pub struct ActionItem(pub ActionItemView);

#[Object]
impl ActionItem {
    /// Action item id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// Its review's id.
    async fn review_id(&self) -> ID {
        gid(self.0.review)
    }
    /// The reviewed incident's id.
    async fn incident_id(&self) -> ID {
        gid(self.0.incident)
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Owner.
    async fn owner(&self) -> &str {
        &self.0.owner
    }
    /// Due date.
    async fn due(&self) -> DateTime {
        dt(self.0.due)
    }
    /// Open or done.
    async fn status(&self) -> ActionItemStatus {
        self.0.status.into()
    }
    /// Open and past due now.
    async fn overdue(&self) -> bool {
        self.0.overdue_at(now())
    }
    /// When it was added.
    async fn created_at(&self) -> DateTime {
        dt(self.0.created_at)
    }
    /// When it was completed.
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.completed_at.map(dt)
    }
}

/// The wall clock as a domain timestamp.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(ms)
}

/// A post-incident review.
#[derive(Clone, Debug)]
pub struct Review(pub ReviewView, pub Source);

impl Review {
    /// The review `id` from the read models.
    pub fn load(m: &ReadModels, id: ReviewId) -> Option<Review> {
        Review::load_at(m, id, &Source::Live)
    }

    /// The review `id` from the read models of `source` (its links resolve there).
    pub fn load_at(m: &ReadModels, id: ReviewId, source: &Source) -> Option<Review> {
        m.reviews
            .get(id)
            .cloned()
            .map(|v| Review(v, source.clone()))
    }

    /// The review `id` from the projections handle.
    pub fn fetch(handle: &Projections, id: ReviewId) -> Option<Review> {
        handle.read(|m| Review::load(m, id))
    }
}

impl From<ReviewView> for Review {
    /// A live review (links resolve against the current read models).
    fn from(view: ReviewView) -> Self {
        Review(view, Source::Live)
    }
}

#[Object]
impl Review {
    /// Review id (ULID).
    async fn id(&self) -> ID {
        gid(self.0.id)
    }
    /// The reviewed incident's id.
    async fn incident_id(&self) -> ID {
        gid(self.0.incident)
    }
    /// The reviewed incident (as of the same point for an entity of `reviewAsOf`).
    async fn incident(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Incident>> {
        Ok(self
            .1
            .read(ctx, |m| Incident::load_at(m, self.0.incident, &self.1))?)
    }
    /// The incident's severity when the review was created.
    async fn severity(&self) -> Severity {
        self.0.severity.into()
    }
    /// The incident's status when the review was created.
    async fn incident_status(&self) -> IncidentStatus {
        self.0.incident_status.into()
    }
    /// Draft, in review or published.
    async fn status(&self) -> ReviewStatus {
        self.0.status.into()
    }
    /// The written sections.
    async fn sections(&self) -> ReviewSections {
        let s = &self.0.sections;
        ReviewSections {
            summary: s.summary.clone(),
            customer_impact: s.customer_impact.clone(),
            root_cause: s.root_cause.clone(),
            contributing_factors: s
                .contributing_factors
                .iter()
                .map(|f| ContributingFactor {
                    category: f.category.into(),
                    description: f.description.clone(),
                })
                .collect(),
            what_went_well: s.what_went_well.clone(),
            lessons_learned: s.lessons_learned.clone(),
        }
    }
    /// Action items.
    async fn action_items(&self) -> Vec<ActionItem> {
        self.0
            .action_items
            .iter()
            .cloned()
            .map(ActionItem)
            .collect()
    }
    /// The incident's timeline as generated at creation.
    async fn timeline(&self) -> Vec<ReviewTimelineEntry> {
        self.0
            .timeline
            .iter()
            .map(|t| ReviewTimelineEntry {
                at: dt(t.at),
                actor: t.actor.0.clone(),
                kind: t.kind.clone(),
                text: t.text.clone(),
            })
            .collect()
    }
    /// Who created it.
    async fn created_by(&self) -> &str {
        self.0.created_by.as_str()
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime {
        dt(self.0.created_at)
    }
    /// When it was submitted.
    async fn submitted_at(&self) -> Option<DateTime> {
        self.0.submitted_at.map(dt)
    }
    /// When it was published.
    async fn published_at(&self) -> Option<DateTime> {
        self.0.published_at.map(dt)
    }
    /// Stream version of its last event (what `expectedVersion` takes).
    async fn version(&self) -> u64 {
        self.0.version
    }
}
