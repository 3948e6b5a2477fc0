"""Schemathesis hooks for the admin API run (tests/api/schemathesis.mjs).

Three rules of the document that JSON Schema cannot state are given to the tester here:

- A scope is any string of the `Scope` shape, and `GET /policy` (field `scopes`) says which
  of them this deployment offers: the document stays policy-independent, and the run binds
  `Scope` to the deployment under test. Likewise a plan (`PlanName`) to the plans `GET /policy`
  lists (field `plans`; the runner passes their names as `KEYGATE_POLICY_PLANS`).
- A key's new `expires_at` must be in the future (the document says so in words; JSON
  Schema has no "now"). The run gives those two fields a format of their own whose values
  are RFC 3339 times from tomorrow to the year 9999, so the positive checks test everything
  else about the body. That a past expiry is refused is a unit test of the server
  (`admin::tests::expires_at_must_be_strictly_in_the_future`).
- In `limits`, `per_minute` must not exceed `per_day`, where a window left out is the
  policy's default (at create) or the key's current value (at an edit). JSON Schema cannot
  compare two fields, so positive cases whose limits could break the rule are left out:
  both windows given with `per_minute` above `per_day`, or one window given alone. That those
  are refused is a unit test of the server (`admin::tests::per_minute_may_not_exceed_per_day`,
  `partial_limits_fill_from_the_policy_defaults`).
"""

import json
import os
from datetime import datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st

FUTURE_DATE_TIME = "keygate-future-date-time"
# The request bodies whose `expires_at` sets a key's expiry.
EXPIRING_BODIES = ("CreateKeyRequest", "EditKeyRequest")

tomorrow = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) + timedelta(days=1)
schemathesis.openapi.format(
    FUTURE_DATE_TIME,
    st.datetimes(min_value=tomorrow, max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
        lambda at: at.replace(microsecond=0).isoformat() + "Z"
    ),
)


@schemathesis.hook
def before_load_schema(context, raw_schema):
    schemas = raw_schema["components"]["schemas"]
    schemas["Scope"]["enum"] = json.loads(os.environ["KEYGATE_POLICY_SCOPES"])
    schemas["PlanName"]["enum"] = json.loads(os.environ["KEYGATE_POLICY_PLANS"])
    for name in EXPIRING_BODIES:
        expires_at = schemas[name]["properties"]["expires_at"]
        assert expires_at["format"] == "date-time", name
        expires_at["format"] = FUTURE_DATE_TIME


def limits_may_break_the_order(limits):
    """Whether the rule depends on what the tester cannot know, or is broken outright."""
    if not isinstance(limits, dict):
        return False
    per_minute, per_day = limits.get("per_minute"), limits.get("per_day")
    if per_minute is None and per_day is None:
        return False
    if per_minute is None or per_day is None:
        return True
    return per_minute > per_day


@schemathesis.hook
def filter_case(context, case):
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    body = case.body
    return not (positive and isinstance(body, dict) and limits_may_break_the_order(body.get("limits")))
