//! The post-incident reviews read model: reviews with their sections and
//! generated timeline, and their action items (open / overdue).

use std::collections::BTreeMap;

use opsledger_domain::incident::{IncidentStatus, Severity};
use opsledger_domain::review::{
    ActionItemStatus, ContributingFactor, ReviewEvent, ReviewStatus, SectionContent, TimelineEntry,
};
use opsledger_domain::{ActionItemId, Actor, IncidentId, ReviewId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::pagination::{paginate, Page, PageRequest};
use crate::projection::EventMeta;
use crate::ProjectionError;

/// The written sections of a review.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

impl ReviewSections {
    fn apply(&mut self, content: &SectionContent) {
        match content {
            SectionContent::Summary(s) => self.summary = s.clone(),
            SectionContent::CustomerImpact(s) => self.customer_impact = s.clone(),
            SectionContent::RootCause(s) => self.root_cause = s.clone(),
            SectionContent::ContributingFactors(f) => self.contributing_factors = f.clone(),
            SectionContent::WhatWentWell(s) => self.what_went_well = s.clone(),
            SectionContent::LessonsLearned(s) => self.lessons_learned = s.clone(),
        }
    }
}

/// An action item of a review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItemView {
    /// The item.
    pub id: ActionItemId,
    /// Its review.
    pub review: ReviewId,
    /// The review's incident.
    pub incident: IncidentId,
    /// Title.
    pub title: String,
    /// Owner.
    pub owner: String,
    /// Due date.
    pub due: Timestamp,
    /// Open or done.
    pub status: ActionItemStatus,
    /// When it was added.
    pub created_at: Timestamp,
    /// When it was completed.
    pub completed_at: Option<Timestamp>,
}

impl ActionItemView {
    /// Whether it was open at `at` (added, not yet completed).
    pub fn open_at(&self, at: Timestamp) -> bool {
        self.created_at <= at && self.completed_at.is_none_or(|c| c > at)
    }

    /// Whether it was open and past due at `at`.
    pub fn overdue_at(&self, at: Timestamp) -> bool {
        self.open_at(at) && self.due < at
    }
}

/// A review as the read side shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewView {
    /// The review.
    pub id: ReviewId,
    /// Its incident.
    pub incident: IncidentId,
    /// The incident's severity when the review was created.
    pub severity: Severity,
    /// The incident's status when the review was created.
    pub incident_status: IncidentStatus,
    /// Draft, in review or published.
    pub status: ReviewStatus,
    /// The written sections.
    pub sections: ReviewSections,
    /// Its action items, in the order added.
    pub action_items: Vec<ActionItemView>,
    /// The timeline generated from the incident's events.
    pub timeline: Vec<TimelineEntry>,
    /// Who created it.
    pub created_by: Actor,
    /// When.
    pub created_at: Timestamp,
    /// When it was submitted for review.
    pub submitted_at: Option<Timestamp>,
    /// When it was published.
    pub published_at: Option<Timestamp>,
    /// Stream version of its last event.
    pub version: u64,
}

/// Which reviews a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReviewFilter {
    /// Only this status.
    pub status: Option<ReviewStatus>,
    /// Only reviews of this incident.
    pub incident: Option<IncidentId>,
}

/// Which action items a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionItemFilter {
    /// Only items of this owner.
    pub owner: Option<String>,
    /// Only open items.
    pub open_only: bool,
    /// Only items overdue at this instant.
    pub overdue_at: Option<Timestamp>,
    /// Only items of this review.
    pub review: Option<ReviewId>,
}

/// Every review.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewsModel {
    by_id: BTreeMap<ReviewId, ReviewView>,
    by_incident: BTreeMap<IncidentId, Vec<ReviewId>>,
}

impl ReviewsModel {
    /// Folds one review event; returns the incident of a newly created review.
    pub fn apply(
        &mut self,
        meta: &EventMeta<'_>,
        event: &ReviewEvent,
    ) -> Result<Option<(IncidentId, ReviewId)>, ApplyError> {
        let id = ReviewId::from_stream_id(meta.stream_id)
            .ok_or_else(|| ApplyError::BadStreamId(meta.stream_id.to_owned()))?;
        if let ReviewEvent::Created(e) = event {
            self.by_id.insert(
                id,
                ReviewView {
                    id,
                    incident: e.incident,
                    severity: e.severity,
                    incident_status: e.incident_status,
                    status: ReviewStatus::Draft,
                    sections: ReviewSections::default(),
                    action_items: Vec::new(),
                    timeline: e.timeline.clone(),
                    created_by: e.by.clone(),
                    created_at: e.at,
                    submitted_at: None,
                    published_at: None,
                    version: meta.stream_version,
                },
            );
            self.by_incident.entry(e.incident).or_default().push(id);
            return Ok(Some((e.incident, id)));
        }
        let view = self
            .by_id
            .get_mut(&id)
            .ok_or_else(|| ApplyError::UnknownEntity {
                kind: "review",
                stream_id: meta.stream_id.to_owned(),
            })?;
        view.version = meta.stream_version;
        match event {
            ReviewEvent::Created(_) => {}
            ReviewEvent::SectionEdited(e) => view.sections.apply(&e.content),
            ReviewEvent::ActionItemAdded(e) => view.action_items.push(ActionItemView {
                id: e.id,
                review: id,
                incident: view.incident,
                title: e.title.clone(),
                owner: e.owner.clone(),
                due: e.due,
                status: ActionItemStatus::Open,
                created_at: e.at,
                completed_at: None,
            }),
            ReviewEvent::ActionItemCompleted(e) => {
                if let Some(item) = view.action_items.iter_mut().find(|i| i.id == e.id) {
                    item.status = ActionItemStatus::Done;
                    item.completed_at = Some(e.at);
                }
            }
            ReviewEvent::Submitted(e) => {
                view.status = ReviewStatus::InReview;
                view.submitted_at = Some(e.at);
            }
            ReviewEvent::Published(e) => {
                view.status = ReviewStatus::Published;
                view.published_at = Some(e.at);
            }
        }
        Ok(None)
    }

    /// One review.
    pub fn get(&self, id: ReviewId) -> Option<&ReviewView> {
        self.by_id.get(&id)
    }

    /// Every review, by id.
    pub fn all(&self) -> impl Iterator<Item = &ReviewView> {
        self.by_id.values()
    }

    /// The reviews of an incident.
    pub fn of_incident(&self, incident: IncidentId) -> impl Iterator<Item = &ReviewView> {
        self.by_incident
            .get(&incident)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
    }

    /// Whether an incident has a published review.
    pub fn has_published_review(&self, incident: IncidentId) -> bool {
        self.of_incident(incident)
            .any(|r| r.status == ReviewStatus::Published)
    }

    /// Every action item of every review.
    pub fn action_items(&self) -> impl Iterator<Item = &ActionItemView> {
        self.by_id.values().flat_map(|r| r.action_items.iter())
    }

    /// A page of reviews, newest first.
    pub fn list(
        &self,
        filter: &ReviewFilter,
        page: &PageRequest,
    ) -> Result<Page<ReviewView>, ProjectionError> {
        let mut items: Vec<&ReviewView> = self
            .by_id
            .values()
            .filter(|r| filter.status.is_none_or(|s| r.status == s))
            .filter(|r| filter.incident.is_none_or(|i| r.incident == i))
            .collect();
        items.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        let page = paginate(items, |r| (r.created_at.0, r.id.0 .0), true, page)?;
        Ok(page.map(Clone::clone))
    }

    /// A page of action items, earliest due first.
    pub fn list_action_items(
        &self,
        filter: &ActionItemFilter,
        page: &PageRequest,
    ) -> Result<Page<ActionItemView>, ProjectionError> {
        let mut items: Vec<&ActionItemView> = self
            .action_items()
            .filter(|i| filter.owner.as_ref().is_none_or(|o| &i.owner == o))
            .filter(|i| !filter.open_only || i.status == ActionItemStatus::Open)
            .filter(|i| filter.overdue_at.is_none_or(|t| i.overdue_at(t)))
            .filter(|i| filter.review.is_none_or(|r| i.review == r))
            .collect();
        items.sort_by_key(|i| (i.due, i.id));
        let page = paginate(items, |i| (i.due.0, i.id.0 .0), false, page)?;
        Ok(page.map(Clone::clone))
    }
}
