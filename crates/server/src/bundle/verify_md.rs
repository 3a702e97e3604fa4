//! `VERIFY.md`: how to check a bundle, in plain words, with the commands.
//!
//! Every command in a `sh` block needs nothing but the unzipped folder and
//! standard tools (coreutils, grep, sed, awk, OpenSSL 3) and fails with a
//! non-zero status when its check fails: the end-to-end test runs them all.
//! Commands that need a secret or this service's binary are in `text` blocks.

use super::write::BundleHeader;
use super::{
    file_name, WebhookFiles, WebhookSource, CHAIN, CHECKPOINT, EVENT_HASHES, PUBLIC_KEY, RECORD,
    SIGNATURE, SUMS, TIME_STAMP,
};
use crate::store::evidence::EvidenceRow;

/// What the guide's examples and coverage sentence need from the events.
#[derive(Debug, Default)]
pub(super) struct Guide {
    first_seq: Option<i64>,
    last_seq: Option<i64>,
    events: u64,
    whatsapp_example: Option<WebhookFiles>,
    sms_example: Option<WebhookFiles>,
}

impl Guide {
    pub(super) fn note_event(&mut self, row: &EvidenceRow) {
        self.first_seq.get_or_insert(row.seq);
        self.last_seq = Some(row.seq);
        self.events += 1;
        if row.raw_body.is_some() && row.signature_header.is_some() {
            let files = WebhookFiles::of(row);
            let example = match files.source {
                WebhookSource::WhatsApp => &mut self.whatsapp_example,
                WebhookSource::Sms => &mut self.sms_example,
            };
            example.get_or_insert(files);
        }
    }
}

/// The guide for one bundle.
pub(super) fn render(header: &BundleHeader, guide: &Guide, made_at: &str) -> String {
    let checkpoint = &header.checkpoint.checkpoint;
    let (phone, organization) = (&header.phone, header.organization_id);
    let (first, last, events) = (
        guide.first_seq.unwrap_or_default(),
        guide.last_seq.unwrap_or_default(),
        guide.events,
    );
    let (signed_seq, head) = (checkpoint.seq, &checkpoint.head);
    let coverage = if signed_seq == last {
        format!(
            "Here the checkpoint signs event #{last} itself, this number's last event: its \
             signed hash is the SHA-256 of `hashed/{last}.txt`, so steps 2 to 4 prove that \
             text is what the service signed. So is each event of this number just before a \
             proven one of this number, because a hashed text starts with the hash of the \
             event before it."
        )
    } else {
        format!(
            "Here the checkpoint signs event #{signed_seq}, later than this number's last event \
             #{last}: the events in between are other contacts'."
        )
    };
    let bundle = file_name(phone);
    let whatsapp = guide.whatsapp_example.as_ref().map_or_else(
        || "(This bundle holds no signed WhatsApp webhook.)".to_owned(),
        |files| {
            format!(
                "For example, for `{body}`:\n\n```text\n\
                 printf 'sha256=%s' \"$(openssl dgst -sha256 -hmac \"$WHATSAPP_APP_SECRET\" -r {body} | cut -d ' ' -f 1)\" | cmp - {signature} && echo OK\n\
                 ```\n\n(Meta sends lowercase hex; a header received in uppercase compares equal \
                 ignoring case.)",
                body = files.body,
                signature = files.signature,
            )
        },
    );
    let sms = guide.sms_example.as_ref().map_or_else(
        || "(This bundle holds no signed SMS webhook.)".to_owned(),
        |files| {
            format!(
                "For example `{body}`, `{url}` and `{signature}`.",
                body = files.body,
                url = files.url,
                signature = files.signature,
            )
        },
    );
    let (time_stamp_row, time_stamp_check) = match &header.time_stamp {
        None => (String::new(), String::new()),
        Some(_) => (
            format!(
                "| `{TIME_STAMP}` | an RFC 3161 time-stamp authority's reply over `{CHECKPOINT}`: a third party's date for the checkpoint |\n"
            ),
            format!(
                "\n### 5. A time-stamp authority dated the checkpoint (needs its CA certificate)\n\n\
                 ```text\nopenssl ts -verify -data {CHECKPOINT} -in {TIME_STAMP} -CAfile tsa-ca.pem\n```\n\n\
                 With the certificate of the authority the firm uses (`tsa-ca.pem`), it prints \
                 `Verification: OK`: the authority saw exactly this checkpoint at the time it \
                 gives (`openssl ts -reply -in {TIME_STAMP} -text` shows it), so the checkpoint \
                 is no later than that, whatever the service's clock said.\n"
            ),
        ),
    };
    format!(
        r#"# Evidence bundle: the consent record of {phone}

Made by optin-server at {made_at}, for organization {organization}: {events} events
(#{first} to #{last} of the organization's record), covered by a checkpoint the
service signed over event #{signed_seq}.

| file | what it is |
|---|---|
| `{RECORD}` | every consent-record event about {phone}, one JSON object a line, exactly as the service's JSON lines export of the number |
| `webhooks/<seq>.json`, `webhooks/<seq>.form` | the raw body of the WhatsApp (`.json`) or SMS (`.form`) webhook event `<seq>` came from, byte for byte as received |
| `webhooks/<seq>.signature` | that webhook's signature header value, exactly as received (`X-Hub-Signature-256` for WhatsApp, `X-Twilio-Signature` for SMS) |
| `webhooks/<seq>.url` | SMS: the URL the provider signed |
| `hashed/<seq>.txt` | the exact text event `<seq>`'s hash was computed over |
| `{EVENT_HASHES}` | each of this number's events' recorded hash against that text, in `sha256sum` format |
| `{CHAIN}` | the organization's hash chain from event #{first} to event #{signed_seq}, one event a line: `seq prev_hash hash` |
| `{CHECKPOINT}` | the signed checkpoint: organization, sequence number, head hash, time |
| `{SIGNATURE}` | its Ed25519 signature, 64 raw bytes |
{time_stamp_row}| `{PUBLIC_KEY}` | the public key of the service's checkpoint key (PEM) |
| `{SUMS}` | the SHA-256 of every other file |

## How the record is chained

The record is one chain per organization: every event, whichever contact it is
about, gets the next sequence number. Each event's hash is the SHA-256 of its
predecessor's hash (64 lowercase hex digits; 64 zeros for the organization's first
event) immediately followed by a JSON array of the event's own fields, compact and
in a fixed order (form 2, the `hash_form` field: `[2, organization_id, seq,
phone_e164, advisor_id, kind, cause, state_after, provider_time, received_at,
detail_json, raw_body, signature_valid, mode, signature_header, signed_url]`;
events recorded before form 2 have `hash_form` 1: the same fields without the
leading 2, the signature header and the signed URL, and without the mode where it
is null). Changing anything in an event changes its hash, and so every later hash. The
service signs the head of the chain, its last event's hash, from time to time: a
**checkpoint**. A signed head therefore fixes every event before it.

## Check it with standard tools

Unzip the bundle and run these commands in its folder
(`unzip {bundle} -d bundle && cd bundle`). They need only coreutils, grep, sed,
awk and OpenSSL 3; each one prints what it checked, or fails with a non-zero
exit status.

### 1. No file changed since the bundle was made

```sh
sha256sum -c {SUMS}
```

Every file is byte for byte what the service wrote. This alone does not show
who wrote it (anyone can recompute {SUMS}); the next steps tie the content to the
signature.

### 2. The service's key signed the checkpoint

```sh
openssl pkeyutl -verify -pubin -inkey {PUBLIC_KEY} -rawin -in {CHECKPOINT} -sigfile {SIGNATURE}
```

It prints `Signature Verified Successfully`: whoever holds the service's private
key signed that, at the time written in it, event #{signed_seq} of organization
{organization} had the hash {head}. A bundle can carry any key, so also check that
`{PUBLIC_KEY}` is the key the firm publishes (`GET /api/v1/evidence/public-key`, or
a copy you obtained separately): `cmp {PUBLIC_KEY} published-key.pem`.

### 3. Each event of this number has the hash recorded for it

```sh
sha256sum -c {EVENT_HASHES}
```

Each `hashed/<seq>.txt` is the exact text described above (read it: the first 64
characters are the previous event's hash, then the event's fields as JSON), and
its SHA-256 is the hash the record gives the event. That those texts hold the same
fields as `{RECORD}` is checked by `optin-server verify-bundle` (below), or by eye.

### 4. The chain leads from these events to the signed head

```sh
awk 'NR > 1 && ($1 != seq + 1 || $2 != hash) {{ print "{CHAIN}: the link at line " NR " is broken"; exit 1 }} {{ seq = $1; hash = $3 }} END {{ print "{CHAIN}: " NR " links, each naming the one before" }}' {CHAIN}
test "$(tail -n 1 {CHAIN} | cut -d ' ' -f 1,3)" = "$(sed -n 's/^sequence: //p' {CHECKPOINT}) $(sed -n 's/^head: //p' {CHECKPOINT})" && echo "{CHAIN} ends at the signed head"
for f in hashed/*.txt; do n=${{f#hashed/}}; n=${{n%.txt}}; grep -qxF "$n $(head -c 64 "$f") $(sha256sum < "$f" | cut -d ' ' -f 1)" {CHAIN} || {{ echo "event #$n is not in {CHAIN}"; false; }}; done && echo "every event of this number is a link of {CHAIN}"
```

The first command checks that every line of `{CHAIN}` names the previous line's hash
as its `prev_hash`, with no sequence number missing; the second that the last line is
the signed event with the signed hash; the third that each of this number's events
(its sequence number, previous hash and recomputed hash) is a line of it.

What this proves, and what it does not: {coverage} The lines of `{CHAIN}` that
are not this number's belong to other contacts; their content is not in this
bundle (it is other people's data), so their hashes cannot be recomputed here:
that they link is what the service reports. That they are the organization's real
events, unchanged, is proven by `optin-server verify-chain`, which recomputes the
whole chain of the firm's record against every signed checkpoint (the firm runs it,
or gives an auditor the organization's full export and witness file).
{time_stamp_check}
## Check it with optin-server

```text
optin-server verify-bundle {bundle} --public-key published-key.pem
```

It does steps 1 to 4, and also reads every event of `{RECORD}`, recomputes its hash
from its fields, and checks that it matches `hashed/<seq>.txt`, the webhook files and
the chain. Without `--public-key` it uses the bundle's own key, and says so. It exits
non-zero naming the first problem.

## Check a webhook's signature again (needs the provider's secret)

The signatures in `webhooks/` were made by Meta and the SMS provider with secrets
the firm holds, not with the service's key: anyone given the secret can check that
a body is exactly what the provider sent.

WhatsApp: `X-Hub-Signature-256` is `sha256=` followed by the HMAC-SHA256 of the raw
body with the Meta app secret, in hex. {whatsapp}

SMS: `X-Twilio-Signature` is the base64 of the HMAC-SHA1, with the SMS auth token,
of the signed URL followed by every form parameter of the body, sorted by name,
each as its name then its value (URL-decoded), with nothing in between. {sms}
"#
    )
}
