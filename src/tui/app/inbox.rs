//! The inbox: every read whose answer is still wanted, by request id — the one place where
//! stale replies are dropped. A newer read of the same owner and purpose (what its answer
//! becomes: a screen's reply variant, a page's rows or count) supersedes an older one; closing
//! what asked (a form, the session) forgets its reads.

use std::collections::BTreeMap;

use crate::tui::action::Purpose;
use crate::tui::screens::Tab;

/// Who waits for a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A tab's screen.
    Tab(Tab),
    /// The open form (role choices, user picker).
    Form,
    /// The filter menu of a column.
    Filter,
    /// The live view's poll of the change feed.
    Live,
    /// The sign-in screen (a sign-in step).
    SignIn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    owner: Owner,
    purpose: Purpose,
}

/// The reads whose answers are still wanted.
#[derive(Debug, Default)]
pub struct Inbox {
    pending: BTreeMap<u64, Pending>,
}

impl Inbox {
    /// Waits for read `id` on behalf of `owner`; an older read of the same owner and purpose
    /// is no longer wanted.
    pub fn expect(&mut self, id: u64, owner: Owner, purpose: Purpose) {
        let p = Pending { owner, purpose };
        self.pending.retain(|_, q| *q != p);
        self.pending.insert(id, p);
    }

    /// The answer to read `id` arrived: who wanted it, or None when nobody does any more.
    pub fn take(&mut self, id: u64) -> Option<Owner> {
        self.pending.remove(&id).map(|p| p.owner)
    }

    /// Whether `owner` waits for any answer.
    pub fn waits_for(&self, owner: Owner) -> bool {
        self.pending.values().any(|p| p.owner == owner)
    }

    /// `owner` is gone: its answers are no longer wanted.
    pub fn forget(&mut self, owner: Owner) {
        self.pending.retain(|_, p| p.owner != owner);
    }

    /// Nothing asked so far is wanted any more (sign-out, another environment).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// How many answers are awaited.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}
