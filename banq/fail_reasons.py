"""banq's payment fail reasons (the ones banq documents: docs/banq-api.md) in words a shopper can
act on."""

from __future__ import annotations

import re

_PLAIN = {
    "generalerror": "banq could not complete the payment. Check your connection and try again.",
    "plaidbalancecheckfailed": "The bank account linked to your banq doesn't have enough balance.",
    "insufficientbalance": "Your banq account doesn't have enough balance for this payment.",
    "tierplanlimits": "This payment is over your banq account's limit.",
    "blacklistedfingerprint": "banq could not process this payment. Please contact banq support.",
    "isabalanceisinsufficient": "banq can't settle this payment right now. Please try again later.",
    "plaidrequiresreauthentication": (
        "Your bank link needs to be re-authorised in banq's Account Space Manager; then try again."
    ),
    "custodialaccountcontactisnotapproved": "Your banq account is not approved for payments yet.",
}

DEFAULT = "banq declined the payment."


def fail_reason_text(code: str | None) -> str:
    """A plain sentence for banq's fail reason code; unknown codes get a generic sentence."""
    if not code:
        return DEFAULT
    key = re.sub(r"[^a-z]", "", code.lower())
    return _PLAIN.get(key, DEFAULT)
