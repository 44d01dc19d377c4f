//! Documents, their access labels, the access rule, and the generated corpus.
//!
//! A document carries `labels` (public / restricted / secret) and `tenants` (the runbook's
//! "Doc-Level ACLs"). A caller (a token's claims) sees a document only when both hold:
//! - its clearance (`tier`) is at least the document's level, the highest of its labels;
//! - one of the document's tenants is one of the caller's `tenant_ids`, or the document
//!   is shared with every tenant (tenant `"*"`).
//!
//! The rule fails closed: a document without labels counts as secret, one without
//! tenants is visible to nobody. The canary document is public and shared with every
//! tenant, so any token (and the search engine's anonymous probe) always finds it.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The tenant name that shares a document with every tenant.
pub const GLOBAL_TENANT: &str = "*";
/// The id of the canary document (the runbook's `q=canary` probe finds it).
pub const CANARY_ID: &str = "canary";

/// An access level: a document label and a caller's clearance (`tier`), in rising order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Anyone of the tenant.
    Public,
    /// Staff of the tenant.
    Restricted,
    /// Cleared staff of the tenant.
    Secret,
}

impl Label {
    /// The label as written in documents and tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Restricted => "restricted",
            Self::Secret => "secret",
        }
    }
}

/// One indexed document, as stored in a release (`docs/<id>.json`) and in the source set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Unique id; also the file name (`[A-Za-z0-9._-]`, at most 128 characters).
    pub id: String,
    /// Title (searched).
    pub title: String,
    /// Body text (searched).
    pub content: String,
    /// Access labels; the highest one is the document's level.
    pub labels: Vec<Label>,
    /// Tenants the document belongs to (`"*"` = every tenant).
    pub tenants: Vec<String>,
}

impl Document {
    /// The level a caller needs: the highest label, or secret when there is none.
    pub fn level(&self) -> Label {
        self.labels.iter().copied().max().unwrap_or(Label::Secret)
    }
}

/// Whether `id` is usable as a document id (and file name).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Who is asking: the claims of a token (or the anonymous probe).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// Tenants the caller belongs to.
    pub tenant_ids: Vec<String>,
    /// The caller's clearance.
    pub tier: Label,
}

impl Viewer {
    /// No tenant, public clearance: sees only public documents shared with every tenant.
    pub fn anonymous() -> Self {
        Self { tenant_ids: Vec::new(), tier: Label::Public }
    }

    /// The access rule (see the module docs).
    pub fn may_see(&self, doc: &Document) -> bool {
        doc.level() <= self.tier
            && doc.tenants.iter().any(|t| t == GLOBAL_TENANT || self.tenant_ids.iter().any(|mine| mine == t))
    }

    /// A stable cache key for this viewer's permissions.
    pub fn cache_key(&self) -> String {
        let mut tenants = self.tenant_ids.clone();
        tenants.sort();
        tenants.dedup();
        format!("{}|{}", self.tier.as_str(), tenants.join(","))
    }
}

/// The canary document.
pub fn canary() -> Document {
    Document {
        id: CANARY_ID.into(),
        title: "Canary test document".into(),
        content: "canary test: this edge node's search index is serving".into(),
        labels: vec![Label::Public],
        tenants: vec![GLOBAL_TENANT.into()],
    }
}

const TOPICS: &[&str] = &[
    "incident",
    "maintenance",
    "inventory",
    "network",
    "schedule",
    "safety",
    "budget",
    "venue",
    "roster",
    "supply",
    "power",
    "radio",
    "medical",
    "transport",
    "weather",
    "security",
];
const WORDS: &[&str] = &[
    "edge",
    "node",
    "field",
    "team",
    "backup",
    "shift",
    "review",
    "status",
    "plan",
    "update",
    "checklist",
    "log",
    "route",
    "cache",
    "index",
    "sync",
    "alert",
    "drill",
    "notes",
    "summary",
    "handover",
    "capacity",
    "spare",
    "contact",
    "briefing",
    "map",
    "sector",
    "uplink",
];

fn words(rng: &mut StdRng, n: usize) -> String {
    (0..n).filter_map(|_| WORDS.choose(rng).copied()).collect::<Vec<_>>().join(" ")
}

fn tenant_doc(rng: &mut StdRng, prefix: &str, tenant: &str, n: usize) -> Document {
    let label = [Label::Public, Label::Restricted, Label::Secret][n % 3];
    let topic = TOPICS.choose(rng).copied().unwrap_or("report");
    Document {
        id: format!("{prefix}{tenant}-{n:04}"),
        title: format!("{tenant} {topic} report {n}"),
        content: format!("{topic} report for {tenant}: {} ({} copy)", words(rng, 12), label.as_str()),
        labels: vec![label],
        tenants: vec![tenant.to_owned()],
    }
}

/// The edge's corpus: per tenant `per_tenant` documents (labels cycling public,
/// restricted, secret), a few public documents shared with every tenant, one document
/// shared by the first two tenants, and the canary. Deterministic for a given RNG.
pub fn generate(rng: &mut StdRng, tenants: &[String], per_tenant: usize) -> Vec<Document> {
    let mut docs = vec![canary()];
    for tenant in tenants {
        docs.extend((0..per_tenant).map(|n| tenant_doc(rng, "", tenant, n)));
    }
    for n in 0..4 {
        let topic = TOPICS.choose(rng).copied().unwrap_or("guide");
        docs.push(Document {
            id: format!("shared-{n:04}"),
            title: format!("Shared {topic} guide {n}"),
            content: format!("{topic} guide and report for every tenant: {}", words(rng, 10)),
            labels: vec![Label::Public],
            tenants: vec![GLOBAL_TENANT.into()],
        });
    }
    if let [a, b, ..] = tenants {
        docs.push(Document {
            id: "joint-0001".into(),
            title: format!("Joint report {a} and {b}"),
            content: format!("joint operations report shared by {a} and {b}: {}", words(rng, 8)),
            labels: vec![Label::Restricted],
            tenants: vec![a.clone(), b.clone()],
        });
    }
    docs
}

/// The upstream's (cloud) archive: documents the edge does not hold, per tenant, with
/// the same labels rule; ids start with `archive-` and every body says "archive report".
pub fn generate_archive(rng: &mut StdRng, tenants: &[String], per_tenant: usize) -> Vec<Document> {
    let mut docs = Vec::new();
    for tenant in tenants {
        for n in 0..per_tenant {
            let mut d = tenant_doc(rng, "archive-", tenant, n);
            d.content = format!("archive {}", d.content);
            docs.push(d);
        }
    }
    let extra = rng.random_range(0..3);
    docs.push(Document {
        id: "archive-shared-0001".into(),
        title: "Archive canary bulletin".into(),
        content: format!("archive report shared with every tenant, canary bulletin {extra}"),
        labels: vec![Label::Public],
        tenants: vec![GLOBAL_TENANT.into()],
    });
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(labels: Vec<Label>, tenants: &[&str]) -> Document {
        Document {
            id: "d".into(),
            title: String::new(),
            content: String::new(),
            labels,
            tenants: tenants.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn access_rule_needs_clearance_and_a_shared_tenant() {
        let a_restricted = Viewer { tenant_ids: vec!["a".into()], tier: Label::Restricted };
        assert!(a_restricted.may_see(&doc(vec![Label::Public], &["a"])));
        assert!(a_restricted.may_see(&doc(vec![Label::Restricted], &["b", "a"])));
        assert!(!a_restricted.may_see(&doc(vec![Label::Secret], &["a"])));
        assert!(!a_restricted.may_see(&doc(vec![Label::Public], &["b"])));
        assert!(a_restricted.may_see(&doc(vec![Label::Public], &["*"])));
        // Fails closed: no labels = secret, no tenants = nobody.
        assert!(!a_restricted.may_see(&doc(vec![], &["a"])));
        assert!(!a_restricted.may_see(&doc(vec![Label::Public], &[])));
        // The highest label wins.
        assert!(!a_restricted.may_see(&doc(vec![Label::Public, Label::Secret], &["a"])));
        assert!(Viewer::anonymous().may_see(&canary()));
    }

    #[test]
    fn ids_are_safe_file_names() {
        assert!(valid_id("tenant-a-0001"));
        assert!(!valid_id("../etc/passwd"));
        assert!(!valid_id(".hidden"));
        assert!(!valid_id(""));
        assert!(!valid_id("a/b"));
    }
}
