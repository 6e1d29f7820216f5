//! The review vocabulary: status, sections, contributing factors, action
//! items and timeline entries.

use crate::context::Actor;
use crate::ids::ActionItemId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a review is in its lifecycle: `draft → in_review → published`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReviewStatus {
    /// Being written.
    #[default]
    Draft,
    /// Submitted for review; sections may still be edited.
    InReview,
    /// Published; sections are frozen, action items still move.
    Published,
}

/// A section of the review, in the order they are checked for publishing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReviewSection {
    /// What happened, briefly.
    Summary,
    /// How customers were affected.
    CustomerImpact,
    /// The root cause.
    RootCause,
    /// Factors that contributed.
    ContributingFactors,
    /// What went well.
    WhatWentWell,
    /// Lessons learned.
    LessonsLearned,
}

/// A category of contributing factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FactorCategory {
    /// A change to production.
    Change,
    /// Not enough capacity.
    Capacity,
    /// A failing dependency.
    Dependency,
    /// Monitoring did not catch it.
    MonitoringGap,
    /// A human mistake.
    HumanError,
    /// A software defect.
    SoftwareBug,
    /// A hardware fault.
    Hardware,
    /// A process gap.
    Process,
    /// Anything else.
    Other,
}

/// One contributing factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributingFactor {
    /// Its category.
    pub category: FactorCategory,
    /// What it was.
    pub description: String,
}

/// The new content of one section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SectionContent {
    /// The summary.
    Summary(String),
    /// The customer impact.
    CustomerImpact(String),
    /// The root cause.
    RootCause(String),
    /// The contributing factors (replacing the previous list).
    ContributingFactors(Vec<ContributingFactor>),
    /// What went well.
    WhatWentWell(String),
    /// Lessons learned.
    LessonsLearned(String),
}

impl SectionContent {
    /// The section this content belongs to.
    pub fn section(&self) -> ReviewSection {
        match self {
            SectionContent::Summary(_) => ReviewSection::Summary,
            SectionContent::CustomerImpact(_) => ReviewSection::CustomerImpact,
            SectionContent::RootCause(_) => ReviewSection::RootCause,
            SectionContent::ContributingFactors(_) => ReviewSection::ContributingFactors,
            SectionContent::WhatWentWell(_) => ReviewSection::WhatWentWell,
            SectionContent::LessonsLearned(_) => ReviewSection::LessonsLearned,
        }
    }
}

/// The written sections of a review (empty until edited).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sections {
    /// The summary.
    pub summary: String,
    /// The customer impact.
    pub customer_impact: String,
    /// The root cause.
    pub root_cause: String,
    /// The contributing factors.
    pub contributing_factors: Vec<ContributingFactor>,
    /// What went well.
    pub what_went_well: String,
    /// Lessons learned.
    pub lessons_learned: String,
}

impl Sections {
    /// Replaces one section.
    pub fn apply(&mut self, content: &SectionContent) {
        match content {
            SectionContent::Summary(s) => self.summary = s.clone(),
            SectionContent::CustomerImpact(s) => self.customer_impact = s.clone(),
            SectionContent::RootCause(s) => self.root_cause = s.clone(),
            SectionContent::ContributingFactors(f) => self.contributing_factors = f.clone(),
            SectionContent::WhatWentWell(s) => self.what_went_well = s.clone(),
            SectionContent::LessonsLearned(s) => self.lessons_learned = s.clone(),
        }
    }

    /// The first section (in [`ReviewSection`] order) that is still empty.
    pub fn first_missing(&self) -> Option<ReviewSection> {
        let blank = |s: &str| s.trim().is_empty();
        [
            (ReviewSection::Summary, blank(&self.summary)),
            (ReviewSection::CustomerImpact, blank(&self.customer_impact)),
            (ReviewSection::RootCause, blank(&self.root_cause)),
            (
                ReviewSection::ContributingFactors,
                self.contributing_factors.is_empty(),
            ),
            (ReviewSection::WhatWentWell, blank(&self.what_went_well)),
            (ReviewSection::LessonsLearned, blank(&self.lessons_learned)),
        ]
        .into_iter()
        .find_map(|(section, missing)| missing.then_some(section))
    }
}

/// Whether an action item is still to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActionItemStatus {
    /// Still to do.
    #[default]
    Open,
    /// Done.
    Done,
}

/// A follow-up task of a review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionItem {
    /// The item.
    pub id: ActionItemId,
    /// What to do.
    pub title: String,
    /// Who owns it (a person or a team).
    pub owner: String,
    /// When it is due.
    pub due: Timestamp,
    /// Open or done.
    pub status: ActionItemStatus,
    /// When it was done.
    pub completed_at: Option<Timestamp>,
}

/// One entry of the incident's timeline, as passed by the caller and as
/// recorded in the review (sorted by time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: Actor,
    /// What kind of entry (e.g. the incident event's type name).
    pub kind: String,
    /// What happened, in words.
    pub text: String,
}
