"""The emulator's seeded accounts and credentials.

storefront/settings.py repeats these values in BANQ_EMULATOR_DEFAULTS (and BANQ_USER_CLIENT_ID,
BANQ_AUDIENCE, BANQ_USER_AUDIENCE): change both places together. The emulator imports nothing of
the store, so the values live twice on purpose.
"""

from __future__ import annotations

# Open API (machine) flow: password grant, audience with a trailing slash.
OPEN_API_CLIENT_ID = "emulator-client-id"
OPEN_API_USERNAME = "api-user@emulator.banq.test"
OPEN_API_PASSWORD = "emulator-password"
OPEN_API_AUDIENCE = "https://banq.com/open/api/"
# What a client of the emulator posts to /oauth/token for an Open API token.
OPEN_API_TOKEN_REQUEST = {
    "client_id": OPEN_API_CLIENT_ID,
    "username": OPEN_API_USERNAME,
    "password": OPEN_API_PASSWORD,
    "audience": OPEN_API_AUDIENCE,
    "grant_type": "password",
}

# Merchant-user flow (users/me): banq's fixed public client id from the integration guide.
MERCHANT_CLIENT_ID = "kFLEhEsxxBWCf0X19hAIjbzYaSyn2cim"
MERCHANT_AUDIENCE = "https://banq.com/api"
MERCHANT_USERNAME = "merchant@emulator.banq.test"
MERCHANT_PASSWORD = "merchant-password"

# The merchant's business (account space) and its banq accounts.
ACCOUNT_SPACE_ID = "3a7d9c1e-5b2f-4e8a-9c6d-0f1e2d3c4b5a"
PLATFORM_ID = "b4c3d2e1-f0a9-4b8c-9d7e-6f5a4b3c2d1e"
MERCHANT_NAME = "Emulator Goods LLC"
MERCHANT_BANQ_GUID = "6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f"
MERCHANT_SECOND_BANQ_GUID = "7a2d3c0f-4e5b-4d6c-9f80-ab1c2d3e4f50"

# Somebody else's business: a valid destination that is not the store's.
FOREIGN_ACCOUNT_SPACE_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
FOREIGN_MERCHANT_NAME = "Other Merchant Inc."
FOREIGN_BANQ_GUID = "0e2d4c6b-8a9f-4b1c-9d3e-5f7a6b8c9d0e"

TOKEN_TTL_S = 86400  # the lifetime of banq's sample token (24 h)
FREQUENCIES = ("once", "weekly", "monthly", "yearly")
WEBHOOK_TYPES = ("payment", "transaction")

# banq's documented fail reasons (docs/banq-api.md; the public table stops after row 8).
FAIL_REASONS = (
    "General Error",
    "PlaidBalanceCheckFailed",
    "InsufficientBalance",
    "TierPlanLimits",
    "BlacklistedFingerprint",
    "IsaBalanceIsInsufficient",
    "PlaidRequiresReAuthentication",
    "CustodialAccountContactIsNotApproved",
)

# What a shopper reads for each reason: banq's own explanations (section 6), in plain words.
FAIL_REASON_TEXT = {
    "General Error": "Something went wrong at banq. Check your connection and try again; if it "
    "keeps failing, contact banq support.",
    "PlaidBalanceCheckFailed": "Your linked bank account does not have enough money for this "
    "payment.",
    "InsufficientBalance": "Your banq account does not have enough money for this payment.",
    "TierPlanLimits": "This payment is over your banq account's amount limit.",
    "BlacklistedFingerprint": "banq cannot process this payment. Please contact banq support.",
    "IsaBalanceIsInsufficient": "banq cannot settle this payment right now. Please try again "
    "later.",
    "PlaidRequiresReAuthentication": "Your bank link needs to be authorised again in banq's "
    "Account Space Manager. Then try again.",
    "CustodialAccountContactIsNotApproved": "Your banq account is not approved yet.",
}
UNKNOWN_FAIL_TEXT = "banq declined this payment."


def fail_reason_text(code: str | None) -> str:
    """The plain-words explanation of a banq fail reason code."""
    return FAIL_REASON_TEXT.get(code or "", UNKNOWN_FAIL_TEXT)


# Route names used by the error_routes fault.
API_ROUTES = (
    "token",
    "get-paid-link",
    "get-payment",
    "get-transaction",
    "cancel-payment",
    "users-me",
    "webhook-config",
)
