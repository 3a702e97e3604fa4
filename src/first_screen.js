// An advisor's first screen, before the app runs (inlined into index.html by
// Trunk, so it runs while the wasm downloads).
//
// 1. It asks for who the advisor is and the list's first page, a round trip
//    sooner than the app could. The app takes an answer only if it would ask
//    the same address with the same token (src/api.rs, `early_answer`). The
//    token is chosen as `session::choose` does (the tab's own first, and
//    nothing when a link brings a different one: the app then asks the person
//    which to use), and the page size is `contact_rows::PAGE_ROWS`.
// 2. With both answers, it draws that screen as the app will draw it (the
//    header, the search box, the rows in view and the count), so the list is
//    seen without waiting for the wasm to compile and run. It is `inert` and
//    `aria-hidden`: nothing there can be clicked, focused or read by
//    assistive technology (nor found by a test's role query); a press on a
//    row's button or name is kept and done by the app when it hands over
//    (`keepPresses`). The app's own
//    page, built meanwhile, stays hidden (`data-first-screen` on <html>)
//    until the app hands over (src/first_screen.rs) in the task in which its
//    own screen is ready: this one is removed and the app's shown.
//    Every text is written as text, never as markup. No ids and no page
//    title mark, which the app's hidden page holds meanwhile. The end-to-end
//    test `first-screen.spec.ts` compares this screen's markup with the app's.
(() => {
  let kept = null;
  try { kept = sessionStorage.getItem('optin.token'); } catch (_) {}
  const link = /(?:^#|&)token=([\w.-]+)(?:&|$)/.exec(location.hash);
  const linked = link && link[1];
  if (kept && linked && kept !== linked) return;
  const token = kept || linked;
  if (!token || location.pathname !== '/') return;
  const answers = {};
  const ask = (path) => {
    const url = new URL(path, location.href).href;
    return (answers[url] = fetch(url, { headers: { Authorization: 'Bearer ' + token } }).catch(() => null));
  };
  const me = ask('/api/v1/me');
  const page = ask('/api/v1/contacts?q=&offset=0&limit=200');
  window.__optinEarly = { token, answers };

  // The app's body (a clone: the app reads the answer itself).
  const json = (answer) => answer.then((r) => (r && r.ok ? r.clone().json() : null)).catch(() => null);
  const root = document.documentElement;
  // Settles once this screen is painted, or once it is known that none is
  // drawn: the app's loader (`pattern_script` in Trunk.toml) runs the app
  // then, so that its first long task does not hold this paint back.
  window.__optinFirstScreen = Promise.all([json(me), json(page)]).then(([me, page]) => {
    // The app drew first, or this is no advisor's list.
    if (root.hasAttribute('data-app-shown') || !me || !page) return;
    if (me.role !== 'advisor' || !page.items.length) return;
    draw(me, page);
    return new Promise((painted) => requestAnimationFrame(() => setTimeout(painted, 0)));
  }).catch((error) => console.warn('the first screen was not drawn early:', error));

  const LABELS = {
    none: 'Not asked', sending: 'Sending…', pending: 'Pending', expired: 'No answer',
    failed: 'Failed', no_whatsapp: 'Not on WhatsApp', opted_in: 'Opted in', opted_out: 'Opted out',
  };
  const WHATSAPP_PATH = 'M12 2a10 10 0 0 0-8.6 15.1L2 22l5-1.3A10 10 0 1 0 12 2zm0 18.2c-1.5 0-3-.4-4.2-1.2l-.3-.2-3 .8.8-2.9-.2-.3A8.2 8.2 0 1 1 12 20.2zm4.5-6.1c-.2-.1-1.5-.7-1.7-.8-.2-.1-.4-.1-.6.1l-.8 1c-.1.2-.3.2-.5.1a6.7 6.7 0 0 1-3.3-2.9c-.2-.4.2-.4.7-1.3.1-.2 0-.3 0-.4l-.8-1.8c-.2-.5-.4-.4-.6-.4h-.5a1 1 0 0 0-.7.3 3 3 0 0 0-.9 2.2c0 1.3.9 2.5 1 2.7.1.2 1.8 2.8 4.4 3.9 1.6.7 2.3.8 3.1.6.5-.1 1.5-.6 1.7-1.2.2-.6.2-1.1.2-1.2-.1-.1-.3-.2-.5-.3z';
  const SMS_PATH = 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z';
  // The app's rows beyond each edge of the view (`OVERSCAN_ROWS`).
  const OVERSCAN_ROWS = 5;

  // `el('span', { class: 'x' }, 'text', child)`: attributes in the app's order.
  function el(tag, attributes, ...children) {
    const svg = tag === 'svg' || tag === 'g' || tag === 'path';
    const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  }
  const icon = (d) =>
    el('svg', { viewBox: '0 0 24 24', width: '20', height: '20', 'aria-hidden': 'true', focusable: 'false' },
      el('g', {}, el('path', { fill: 'currentColor', d })));
  // `optin_core::api::initials`: first letters of the first and last words.
  const initials = (name) => {
    const words = name.split(/\s+/).filter(Boolean);
    const first = words.length ? Array.from(words[0])[0] : '';
    const last = words.length > 1 ? Array.from(words[words.length - 1])[0] : '';
    return (first + last).toUpperCase();
  };
  // `grouped`: 10002 -> "10,002".
  const grouped = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

  function row(contact, index, total, whatsapp) {
    const title =
      contact.consent === 'none' ? 'Ask for WhatsApp consent'
        : contact.consent === 'opted_in' ? 'Message on WhatsApp'
          : 'WhatsApp consent and messages';
    const consent = contact.consent.replace(/_/g, '-');
    const actions = el('span', { class: 'contact__actions' });
    if (whatsapp) {
      actions.append(el('button', {
        type: 'button', class: 'icon-button icon-button--whatsapp', 'aria-label': 'WhatsApp ' + contact.name, title,
      }, icon(WHATSAPP_PATH)));
    }
    actions.append(el('button', {
      type: 'button', class: 'icon-button', 'aria-label': 'SMS ' + contact.name, title: 'Send an SMS',
    }, icon(SMS_PATH)));
    return el('li', {
      class: 'contact',
      'data-contact-id': String(contact.id),
      'aria-posinset': String(index + 1),
      'aria-setsize': String(total),
      style: `top: calc(${index} * var(--row-height))`,
    },
      el('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(contact.name)),
      el('span', { class: 'contact__text' },
        el('a', { href: '/contacts/' + contact.id, class: 'contact__name' }, contact.name),
        el('span', { class: 'contact__phone' }, contact.display_phone)),
      el('span', { class: 'badge badge--' + consent },
        el('span', { class: 'visually-hidden' }, 'WhatsApp consent: '), LABELS[contact.consent] || ''),
      actions);
  }

  function draw(me, page) {
    const list = el('ul', {
      class: 'contact-list', 'aria-label': 'Contacts', style: `height: calc(${page.total} * var(--row-height))`,
    });
    const scroller = el('div', { class: 'contact-scroller' }, list);
    const screen = el('div', { id: 'first-screen', inert: '', 'aria-hidden': 'true' },
      el('header', { class: 'topbar' },
        el('h1', { class: 'topbar__title' }, 'WhatsApp opt-in'),
        el('span', { class: 'topbar__who' }, me.advisor_name + ' · ' + me.organization_name),
        el('span', { class: 'live-indicator', role: 'status' })),
      el('main', { class: 'page' },
        el('section', { class: 'contacts' },
          el('div', { class: 'contacts__head' },
            el('h2', { tabindex: '-1' }, 'Contacts'),
            el('label', { class: 'search' },
              el('span', { class: 'visually-hidden' }, 'Search contacts'),
              el('input', { type: 'search', placeholder: 'Search by name or number', autocomplete: 'off' }))),
          scroller,
          el('p', { class: 'muted contacts__count', role: 'status' },
            page.total === 1 ? '1 contact.' : grouped(page.total) + ' contacts.'))));
    document.body.prepend(screen);
    root.setAttribute('data-first-screen', '');
    // The rows in view, as `ContactList` works them out from the CSS.
    const px = (value) => parseFloat(value) || 0;
    const rowPx = px(getComputedStyle(list).getPropertyValue('--row-height')) || 64;
    const viewPx = Math.min(innerHeight, px(getComputedStyle(scroller).maxHeight) || innerHeight);
    const rows = Math.min(page.items.length, Math.ceil(viewPx / rowPx) + 1 + OVERSCAN_ROWS);
    const whatsapp = me.whatsapp_enabled !== false;
    list.append(...page.items.slice(0, rows).map((contact, i) => row(contact, i, page.total, whatsapp)));
    keepPresses(screen);
  }

  // A press on this screen (inert, so nothing in it takes one) is kept for the
  // app, which does it once it hands over (src/first_screen.rs): a row's link
  // or button, told by its place among them (the app's row has the same
  // markup). Inert elements are not hit-tested, so the press is placed by
  // where it landed. Only the last press is kept.
  function keepPresses(screen) {
    document.addEventListener('click', (event) => {
      if (!screen.isConnected) return;
      for (const li of screen.querySelectorAll('li.contact')) {
        const controls = [...li.querySelectorAll('a, button')];
        const control = controls.findIndex((target) => {
          const box = target.getBoundingClientRect();
          return event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
        });
        if (control < 0) continue;
        event.preventDefault();
        for (const pressed of screen.querySelectorAll('[data-pressed]')) pressed.removeAttribute('data-pressed');
        controls[control].setAttribute('data-pressed', '');
        root.setAttribute('data-first-screen-pressed', '');
        window.__optinPressed = { contact: li.getAttribute('data-contact-id'), control };
        return;
      }
    }, true);
  }
})();
