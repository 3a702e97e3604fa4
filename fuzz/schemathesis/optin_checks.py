"""Schemathesis checks of our own, loaded by `cargo xtask chaos` through
SCHEMATHESIS_HOOKS: every refusal answers the service's JSON error shape."""

import schemathesis


@schemathesis.check
def refusal_in_json_error_shape(ctx, response, case):
    """A 4xx or 5xx answers `{"code": "...", "message": "..."}` as JSON."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    assert content_type.startswith("application/json"), (
        f"{response.status_code} answered {content_type!r}, not the JSON error shape"
    )
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), str) and isinstance(
        body.get("message"), str
    ), f"{response.status_code} answered {body!r}, not the JSON error shape"
    return None
