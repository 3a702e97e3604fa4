//! The contact list, virtual: only the rows in view and a few around them are
//! in the DOM, so ten thousand contacts paint and scroll like twenty. The list
//! element is as tall as every row (their count × `--row-height`, in CSS),
//! each row is placed at its index, and rows not loaded yet show as empty lines.
//!
//! For assistive technology each row says its place (`aria-posinset` of
//! `aria-setsize`). The row holding keyboard focus stays in the DOM when it
//! scrolls out of view, so focus is never dropped; tabbing past the last row
//! drawn scrolls the next ones in (they are within the overscan).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use leptos::html::{Div, Ul};
use leptos::prelude::*;
use optin_core::api::Contact;
use optin_core::search::ContactQuery;
use wasm_bindgen::JsCast;

use crate::components::contact_row::{ContactRow, RowPlace};
use crate::contact_rows::ContactLists;

/// Rows drawn beyond each edge of the view, so that a fast scroll or a Tab
/// lands on a row already there.
const OVERSCAN_ROWS: u64 = 5;
/// Until measured: the CSS row height and a tall screen.
const DEFAULT_ROW_PX: f64 = 64.0;
const DEFAULT_VIEW_PX: f64 = 640.0;

/// A row drawn: its index in the list and its contact.
pub type Drawn = (u64, Arc<Contact>);

#[component]
pub fn ContactList(
    /// The lists; the one shown is drawn.
    lists: Signal<ContactLists>,
    /// Set to the rows in view (with the overscan), for loading them.
    in_view: RwSignal<Range<u64>>,
    /// How far the list is scrolled (CSS pixels): followed, and where a list
    /// drawn again starts.
    scroll_top: RwSignal<f64>,
    /// A row's WhatsApp button was pressed.
    on_whatsapp: Callback<Contact>,
    /// A row's SMS button was pressed.
    on_sms: Callback<Contact>,
) -> impl IntoView {
    let scroller = NodeRef::<Div>::new();
    let list = NodeRef::<Ul>::new();
    let row_px = RwSignal::new(DEFAULT_ROW_PX);
    let view_px = RwSignal::new(DEFAULT_VIEW_PX);
    let total = Memo::new(move |_| lists.with(|l| l.shown().total()));

    // The row height and the scrolling box's largest height are set in CSS
    // (both differ on narrow screens); the browser window bounds the box too.
    let measure = move || {
        let Some(window) = web_sys::window() else {
            return;
        };
        let css_px = |element: Option<web_sys::Element>, property: &str| {
            let style = window.get_computed_style(&element?).ok().flatten()?;
            let value = style.get_property_value(property).ok()?;
            value
                .trim()
                .strip_suffix("px")?
                .parse::<f64>()
                .ok()
                .filter(|px| *px > 0.0)
        };
        let window_px = window.inner_height().ok().and_then(|h| h.as_f64());
        let box_px = css_px(scroller.get_untracked().map(Into::into), "max-height");
        if let Some(px) = [window_px, box_px].into_iter().flatten().reduce(f64::min) {
            view_px.set(px);
        }
        if let Some(px) = css_px(list.get_untracked().map(Into::into), "--row-height") {
            row_px.set(px);
        }
    };
    Effect::new(move |_| {
        if list.get().is_some() {
            measure();
        }
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());

    // A list drawn again is scrolled back where it was left.
    Effect::new(move |_| {
        let top = scroll_top.get_untracked();
        if let Some(scroller) = scroller.get().filter(|_| top > 0.0) {
            scroller.set_scroll_top(top as i32);
        }
    });

    // A new search starts at its top. Only when scrolled: setting
    // `scrollTop` lays the page out at once, which cost every keystroke
    // a layout of the rows it had just changed.
    Effect::new(move |previous: Option<String>| {
        let query = lists.with(|l| l.shown().query().text().to_owned());
        let scrolled = scroll_top.get_untracked() > 0.0;
        if scrolled && previous.is_some_and(|previous| previous != query) {
            if let Some(scroller) = scroller.get_untracked() {
                scroller.set_scroll_top(0);
            }
            scroll_top.set(0.0);
        }
        query
    });

    let window = Memo::new(move |_| {
        let row = row_px.get();
        let first = (scroll_top.get() / row).floor() as u64;
        let in_sight = (view_px.get() / row).ceil() as u64 + 1;
        let total = total.get();
        first.saturating_sub(OVERSCAN_ROWS).min(total)
            ..(first + in_sight + OVERSCAN_ROWS).min(total)
    });
    Effect::new(move |_| in_view.set(window.get()));

    // The focused row (index, contact id), kept drawn wherever it scrolls.
    let focused = RwSignal::new(None::<(u64, i64)>);
    let on_focusin = move |ev: leptos::ev::FocusEvent| {
        let row = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("li[data-contact-id]").ok().flatten());
        let place = row.and_then(|row| {
            let index = row.get_attribute("aria-posinset")?.parse::<u64>().ok()?;
            let id = row.get_attribute("data-contact-id")?.parse::<i64>().ok()?;
            Some((index.checked_sub(1)?, id))
        });
        let _ = focused.try_set(place);
    };
    // `try_`: the focused row's removal when the list itself goes (another
    // screen opens) fires this after the list's signals are disposed.
    let on_focusout = move |ev: leptos::ev::FocusEvent| {
        let inside = ev
            .related_target()
            .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
            .zip(list.try_get_untracked().flatten())
            .is_some_and(|(to, list)| list.contains(Some(&to)));
        if !inside {
            let _ = focused.try_set(None);
        }
    };

    let drawn = Memo::new(move |_| {
        let range = window.get();
        let kept = focused.get();
        lists.with(|l| {
            let rows = l.shown();
            let mut drawn: Vec<Drawn> = range
                .clone()
                .filter_map(|index| rows.row(index).map(|c| (index, c.clone())))
                .collect();
            let kept_row = kept
                .filter(|(index, _)| !range.contains(index))
                .and_then(|(index, id)| Some((index, rows.row(index).filter(|c| c.id == id)?)));
            if let Some((index, contact)) = kept_row {
                let at = drawn.partition_point(|(i, _)| *i < index);
                drawn.insert(at, (index, contact.clone()));
            }
            // Rows are keyed by contact: a list that changed under a stale page
            // could hold one twice for a moment.
            let mut seen = std::collections::HashSet::new();
            drawn.retain(|(_, c)| seen.insert(c.id));
            drawn
        })
    });
    // Each drawn row in a slot of its own: on the same list, kept while its
    // contact is drawn; a new list (a keystroke) is written into the slots
    // where they stand.
    let slots = Memo::new(move |before: Option<&Slots>| {
        let list = lists.with(|l| l.shown().query().clone());
        let kept = match before {
            Some(before) if before.list != list => {
                Kept::Focused(focused.with_untracked(|f| f.map(|(_, id)| id)))
            }
            _ => Kept::Every,
        };
        let before = before.map_or(&[][..], |b| b.rows.as_slice());
        let rows = drawn.with(|drawn| recycle_slots(before, drawn, kept));
        Slots { list, rows }
    });
    // In list order, so that the page (and Tab, and a screen reader) reads
    // the rows in the list's order: a slot reused for a row further down
    // moves there.
    let filled = move || {
        slots.with(|slots| {
            let mut filled = slots
                .rows
                .iter()
                .enumerate()
                .filter_map(|(slot, row)| Some((slot, row.clone()?)))
                .collect::<Vec<_>>();
            filled.sort_unstable_by_key(|(_, (index, _))| *index);
            filled
        })
    };

    view! {
        <div
            class="contact-scroller"
            node_ref=scroller
            on:scroll=move |_| {
                if let Some(scroller) = scroller.try_get_untracked().flatten() {
                    let _ = scroll_top.try_set(f64::from(scroller.scroll_top()));
                }
            }
        >
            <ul
                class="contact-list"
                aria-label="Contacts"
                node_ref=list
                style=move || format!("height: calc({} * var(--row-height))", total.get())
                on:focusin=on_focusin
                on:focusout=on_focusout
            >
                // Keyed by slot: a keystroke or a scroll writes the new
                // contacts into the rows there, rather than building rows.
                <For
                    each=filled
                    key=|(slot, _)| *slot
                    children=move |(slot, first): (usize, Drawn)| {
                        // Until the list drops this slot, the last contact it held.
                        let row = Memo::new(move |before: Option<&Drawn>| {
                            slots
                                .with(|slots| slots.rows.get(slot).cloned().flatten())
                                .unwrap_or_else(|| before.unwrap_or(&first).clone())
                        });
                        let contact = Signal::derive(move || row.with(|(_, c)| c.clone()));
                        let place = Signal::derive(move || RowPlace {
                            index: row.with(|(index, _)| *index),
                            of: total.get(),
                        });
                        view! { <ContactRow contact on_whatsapp on_sms place/> }
                    }
                />
            </ul>
        </div>
    }
}

/// The rows drawn, by slot, and the list they are from.
#[derive(Debug, Clone, PartialEq)]
struct Slots {
    list: ContactQuery,
    rows: Vec<Option<Drawn>>,
}

/// Which contacts keep the slot they were drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The same list, scrolled: every contact still drawn, so only the rows
    /// that came into view are written.
    Every,
    /// Another list (a keystroke): only the focused contact, if any. The
    /// others are written into the slots in the order the page has them, so
    /// no row element moves: a moved element is taken out of the page and put
    /// back, and the browser styles and lays out all of it again.
    Focused(Option<i64>),
}

/// The drawn rows placed in slots: a contact drawn before keeps its slot (so
/// the focused row keeps its element) as `kept` says, and the others take the
/// slots that freed up, in order (on a new list, the page's order). Slots are
/// never dropped, only emptied, so typing back and forth reuses the same
/// elements.
pub fn recycle_slots(before: &[Option<Drawn>], drawn: &[Drawn], kept: Kept) -> Vec<Option<Drawn>> {
    let mut slots: Vec<Option<Drawn>> = vec![None; before.len().max(drawn.len())];
    let keeps = |id: i64| match kept {
        Kept::Every => true,
        Kept::Focused(focused) => focused == Some(id),
    };
    let slot_of: HashMap<i64, usize> = before
        .iter()
        .enumerate()
        .filter_map(|(slot, row)| Some((row.as_ref()?.1.id, slot)))
        .filter(|(id, _)| keeps(*id))
        .collect();
    let mut newcomers = Vec::new();
    for row in drawn {
        match slot_of.get(&row.1.id) {
            Some(&slot) => slots[slot] = Some(row.clone()),
            None => newcomers.push(row.clone()),
        }
    }
    // There are at least as many free slots as newcomers.
    let mut free = (0..slots.len())
        .filter(|&slot| slots[slot].is_none())
        .collect::<Vec<_>>();
    if let Kept::Focused(_) = kept {
        // The page has the drawn slots by their row's index, then the empty ones.
        free.sort_by_key(|&slot| {
            before
                .get(slot)
                .and_then(Option::as_ref)
                .map_or(u64::MAX, |(index, _)| *index)
        });
    }
    for (slot, row) in free.into_iter().zip(newcomers) {
        slots[slot] = Some(row);
    }
    slots
}
