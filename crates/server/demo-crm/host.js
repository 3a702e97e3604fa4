// Example CRM host: embeds the app and speaks its postMessage protocol.
// Every message is checked against the app's exact origin and window, and
// every message we send names that origin (never "*").
(() => {
  'use strict';
  const APP_ORIGIN = document.body.dataset.appOrigin;
  const frame = document.getElementById('optin-frame');
  const log = document.getElementById('host-log');
  let records = [];
  let current = null;

  const note = (text) => {
    const item = document.createElement('li');
    item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
    log.prepend(item);
  };
  const post = (message) => frame.contentWindow.postMessage(message, APP_ORIGIN);
  const contactOf = (record) => ({ phone: record.phone, crm_id: record.crm_id, name: record.name });

  async function mintToken() {
    const response = await fetch('/token', { method: 'POST' });
    if (!response.ok) throw new Error(`token request failed: ${response.status}`);
    return response.json();
  }

  async function sendSession(withContact) {
    const { token, expires_at } = await mintToken();
    const message = { type: 'optin:session', version: 1, token, expires_at };
    if (withContact && current) message.contact = contactOf(current);
    post(message);
    note(withContact ? 'sent session and contact' : 'sent a fresh token');
  }

  function show(record) {
    current = record;
    document.getElementById('record-name').textContent = record.name;
    document.getElementById('record-phone').textContent = record.phone;
    document.getElementById('record-id').textContent = record.crm_id;
    document.getElementById('record-consent').textContent = 'Unknown';
    for (const button of document.querySelectorAll('#records button')) {
      button.setAttribute('aria-current', String(button.dataset.crmId === record.crm_id));
    }
  }

  window.addEventListener('message', (event) => {
    if (event.origin !== APP_ORIGIN || event.source !== frame.contentWindow) return;
    const message = event.data;
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') return;
    switch (message.type) {
      case 'optin:ready':
        note('app ready');
        loaded.then(() => sendSession(true)).catch((e) => note(e.message));
        break;
      case 'optin:token-needed':
        sendSession(false).catch((e) => note(e.message));
        break;
      case 'optin:consent-changed':
        note(`consent of ${message.phone} is now ${message.state}`);
        if (current && message.phone === current.phone) {
          document.getElementById('record-consent').textContent = String(message.state).replace('_', ' ');
        }
        break;
      default:
        break; // Unknown messages are ignored.
    }
  });

  const loaded = fetch('/records')
    .then((r) => r.json())
    .then((list) => {
      records = list;
      const ul = document.getElementById('records');
      for (const record of records) {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = record.name;
        button.dataset.crmId = record.crm_id;
        button.addEventListener('click', () => {
          show(record);
          post({ type: 'optin:open-contact', version: 1, contact: contactOf(record) });
          note(`opened ${record.name}`);
        });
        li.append(button);
        ul.append(li);
      }
      if (records.length) show(records[0]);
    });
})();
