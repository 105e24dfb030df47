import pytest

from banq.fail_reasons import DEFAULT, fail_reason_text


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("InsufficientBalance", "enough balance"),
        ("General Error", "could not complete"),
        ("PlaidRequiresReAuthentication", "re-authorised"),
        ("TIER_PLAN_LIMITS", "over your banq account's limit"),
    ],
)
def test_known_codes_get_plain_words(code, fragment):
    assert fragment in fail_reason_text(code)


@pytest.mark.parametrize("code", [None, "", "SomethingNew", "<script>"])
def test_unknown_codes_get_the_generic_sentence(code):
    assert fail_reason_text(code) == DEFAULT
