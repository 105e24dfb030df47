"""The checkout form: e-mail and name only. Prices never come from a form.

The rules are ``orders.services.checkout_email_clean`` and ``checkout_name_clean``, which checkout
itself applies too; the form only shows their messages next to the right field.
"""

from django import forms

from orders.exceptions import CheckoutError
from orders.services import checkout_email_clean, checkout_name_clean


class CheckoutForm(forms.Form):
    email = forms.CharField(
        label="E-mail",
        required=False,
        strip=False,
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "inputmode": "email", "required": True}
        ),
    )
    name = forms.CharField(
        label="Name",
        required=False,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "name", "required": True}),
    )

    def clean_email(self) -> str:
        return _checked(checkout_email_clean, self.cleaned_data.get("email", ""))

    def clean_name(self) -> str:
        return _checked(checkout_name_clean, self.cleaned_data.get("name", ""))


def _checked(rule, value: str) -> str:
    try:
        return rule(value)
    except CheckoutError as exc:
        raise forms.ValidationError(str(exc)) from None
