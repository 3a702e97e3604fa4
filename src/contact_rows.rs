//! The contact rows the app knows, by position in the list the service orders
//! by name: the whole list (fetched page by page, the first pages first, the
//! rest in the background), and the list of the search being typed, first
//! filtered from the whole list in the browser, then as the service answers.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use optin_core::api::{Contact, ContactPage};
use optin_core::search::ContactQuery;

/// Rows per request: the service's largest page.
pub const PAGE_ROWS: u64 = optin_core::api::MAX_PAGE_SIZE as u64;
/// The whole list is fetched in the background up to this many rows, so that
/// a search filters it in the browser; beyond, searches wait for the service.
pub const PREFETCH_ROWS: u64 = 20_000;

/// Where a list's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Nothing known yet.
    Loading,
    /// Filtered in the browser from the whole list, awaiting the service's
    /// answer. `complete`: the whole list was loaded, so these are all the
    /// matches; otherwise the matches among its first rows (still the first
    /// rows of the answer, in order), and more may follow.
    Filtered { complete: bool },
    /// As the service answered.
    Served,
}

/// One page of rows and the live revision it was fetched at (`None`: filtered
/// in the browser, not yet from the service).
#[derive(Debug, Clone)]
struct Page {
    rows: Vec<Arc<Contact>>,
    revision: Option<u64>,
}

/// The rows of one search (or of the whole list) by position, as far as known.
#[derive(Debug, Clone)]
pub struct ContactRows {
    query: ContactQuery,
    provenance: Provenance,
    /// How many rows the list has (for `Filtered { complete: false }`, so far).
    total: u64,
    /// Pages by number (`offset / PAGE_ROWS`); missing ones are not loaded.
    pages: BTreeMap<u64, Page>,
}

impl ContactRows {
    /// A list of which nothing is known yet.
    pub fn loading(query: ContactQuery) -> Self {
        Self {
            query,
            provenance: Provenance::Loading,
            total: 0,
            pages: BTreeMap::new(),
        }
    }

    pub fn query(&self) -> &ContactQuery {
        &self.query
    }

    pub fn provenance(&self) -> Provenance {
        self.provenance
    }

    /// Rows in the list (its height).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Is `total` the true count, not a lower bound or a guess?
    pub fn total_is_known(&self) -> bool {
        matches!(
            self.provenance,
            Provenance::Served | Provenance::Filtered { complete: true }
        )
    }

    /// The row at `index`, when loaded.
    pub fn row(&self, index: u64) -> Option<&Arc<Contact>> {
        let page = self.pages.get(&(index / PAGE_ROWS))?;
        page.rows.get((index % PAGE_ROWS) as usize)
    }

    /// Rows a full page `number` has in a list of `total` rows.
    fn page_len(&self, number: u64) -> usize {
        let start = number * PAGE_ROWS;
        self.total.saturating_sub(start).min(PAGE_ROWS) as usize
    }

    fn is_whole_and_fresh(&self, number: u64, revision: u64) -> bool {
        self.pages.get(&number).is_some_and(|page| {
            page.rows.len() >= self.page_len(number)
                && page.revision.is_some_and(|fetched| fetched >= revision)
        })
    }

    /// Pages to ask the service for so that the rows in `range` are shown as
    /// it says at `revision`: missing, partial, only filtered, or older ones.
    pub fn pages_to_fetch(&self, range: Range<u64>, revision: u64) -> Vec<u64> {
        let end = range.end.min(self.total);
        let pages = if self.provenance == Provenance::Loading || range.start >= end {
            // Nothing to show yet: the first page says how many there are.
            0..1
        } else {
            range.start / PAGE_ROWS..(end - 1) / PAGE_ROWS + 1
        };
        pages
            .filter(|&number| !self.is_whole_and_fresh(number, revision))
            .collect()
    }

    /// The first page not loaded within `limit` rows (background loading).
    pub fn next_missing_page(&self, limit: u64) -> Option<u64> {
        if self.provenance != Provenance::Served {
            return None;
        }
        let pages = self.total.min(limit).div_ceil(PAGE_ROWS);
        (0..pages).find(|number| {
            self.pages
                .get(number)
                .is_none_or(|page| page.rows.len() < self.page_len(*number))
        })
    }

    /// Rows `0..n` are all loaded, for the largest such `n`.
    fn loaded_prefix(&self) -> impl Iterator<Item = &Arc<Contact>> {
        (0..)
            .map_while(|number| {
                let page = self.pages.get(&number)?;
                // A short page ends the prefix (its last rows are the list's end, or missing).
                let whole = page.rows.len() == PAGE_ROWS as usize;
                Some((page, whole))
            })
            .scan(true, |previous_whole, (page, whole)| {
                let go_on = std::mem::replace(previous_whole, whole);
                go_on.then_some(page)
            })
            .flat_map(|page| page.rows.iter())
    }

    /// Are all the list's rows loaded?
    fn is_complete(&self) -> bool {
        self.provenance != Provenance::Loading
            && (0..self.total.div_ceil(PAGE_ROWS)).all(|number| {
                self.pages
                    .get(&number)
                    .is_some_and(|page| page.rows.len() >= self.page_len(number))
            })
    }

    /// The rows of this (whole) list matching `query`, at once, by the rule the
    /// service searches with. Only its loaded first rows are searched, so the
    /// result is the service's answer or its beginning.
    pub fn filtered(&self, query: ContactQuery) -> ContactRows {
        let complete = self.is_complete();
        let matches: Vec<Arc<Contact>> = self
            .loaded_prefix()
            .filter(|contact| query.matches(&contact.name, &contact.phone))
            .cloned()
            .collect();
        let total = matches.len() as u64;
        let pages = matches
            .chunks(PAGE_ROWS as usize)
            .enumerate()
            .map(|(number, rows)| {
                let page = Page {
                    rows: rows.to_vec(),
                    revision: None,
                };
                (number as u64, page)
            })
            .collect();
        ContactRows {
            query,
            provenance: Provenance::Filtered { complete },
            total,
            pages,
        }
    }

    /// Takes the service's answer for page `number`, asked at `revision`.
    pub fn insert(&mut self, number: u64, answer: ContactPage, revision: u64) {
        match self.provenance {
            // Every row filtered from the whole list is in the answer at the
            // same place, unless the list changed since: keep what still fits.
            Provenance::Filtered { complete: true } if answer.total == self.total => {}
            Provenance::Filtered { .. } => {
                let whole = PAGE_ROWS as usize;
                self.pages.retain(|_, page| page.rows.len() == whole);
            }
            Provenance::Served if answer.total == self.total => {}
            // Contacts were added or removed: rows elsewhere may have moved.
            Provenance::Loading | Provenance::Served => self.pages.clear(),
        }
        self.provenance = Provenance::Served;
        self.total = answer.total;
        let rows = answer.items.into_iter().map(Arc::new).collect();
        let revision = Some(revision);
        self.pages.insert(number, Page { rows, revision });
    }
}

/// The whole list and, while something is typed, the search's list.
#[derive(Debug, Clone)]
pub struct ContactLists {
    everyone: ContactRows,
    search: Option<ContactRows>,
}

impl Default for ContactLists {
    fn default() -> Self {
        Self {
            everyone: ContactRows::loading(ContactQuery::default()),
            search: None,
        }
    }
}

impl ContactLists {
    /// The list on screen.
    pub fn shown(&self) -> &ContactRows {
        self.search.as_ref().unwrap_or(&self.everyone)
    }

    /// The whole list (what background loading fills).
    pub fn everyone(&self) -> &ContactRows {
        &self.everyone
    }

    /// Shows the rows matching what is typed now, filtered from the whole list;
    /// the service's answer refines them (`answer`).
    pub fn search(&mut self, query: ContactQuery) {
        if &query == self.shown().query() {
            return;
        }
        self.search = (!query.is_empty()).then(|| self.everyone.filtered(query));
    }

    /// Takes the service's answer to `query`, page `number`, asked at `revision`;
    /// the answer to a search no longer shown is dropped.
    pub fn answer(&mut self, query: &ContactQuery, number: u64, page: ContactPage, revision: u64) {
        if query.is_empty() {
            self.everyone.insert(number, page, revision);
        } else if let Some(search) = self.search.as_mut().filter(|s| s.query() == query) {
            search.insert(number, page, revision);
        }
    }
}
