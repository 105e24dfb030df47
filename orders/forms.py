"""The checkout form: e-mail and name, and, when the cart holds goods that ship, the shipping
address and method. Prices never come from a form. And the admin's product form, whose photo is
checked from its content.

The rules are the services' (``checkout_email_clean``, ``checkout_name_clean``,
``shipping_address_check``, ``shipping_method_choose``), which checkout itself applies again; the
form only shows their messages next to the right field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django import forms
from django.utils.html import format_html
from django_countries import countries

from orders.exceptions import CheckoutError
from orders.models import Product, ShippingMethod
from orders.photos import photo_check
from orders.services import (
    checkout_email_clean,
    checkout_name_clean,
    shipping_address_check,
    shipping_method_choose,
    shipping_price_words,
)

ADDRESS_FIELD_NAMES = (
    "shipping_name",
    "shipping_line1",
    "shipping_line2",
    "shipping_city",
    "shipping_postal_code",
    "shipping_region",
    "shipping_country",
    "shipping_phone",
)
POSTED_FIELDS = ("email", "name", *ADDRESS_FIELD_NAMES, "shipping_method")


def _text(label: str, autocomplete: str, *, required: bool = False, **attrs: str) -> forms.Field:
    """A text input whose rule is a service's: the form itself requires and strips nothing."""
    widget_attrs: dict[str, str | bool] = {"autocomplete": autocomplete, **attrs}
    if required:
        widget_attrs["required"] = True
    return forms.CharField(
        label=label, required=False, strip=False, widget=forms.TextInput(attrs=widget_attrs)
    )


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

    def __init__(
        self,
        *args,
        ships: bool = False,
        methods: Sequence[ShippingMethod] = (),
        currency: str = "USD",
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.ships = ships
        self.currency = currency
        if ships:
            self._add_shipping_fields(list(methods))

    def _add_shipping_fields(self, methods: list[ShippingMethod]) -> None:
        self.fields |= {
            "shipping_name": _text("Full name", "shipping name", required=True),
            "shipping_line1": _text("Address", "shipping address-line1", required=True),
            "shipping_line2": _text("Address line 2 (optional)", "shipping address-line2"),
            "shipping_city": _text("City", "shipping address-level2", required=True),
            "shipping_postal_code": _text(
                "Postal code", "shipping postal-code", required=True, size="12"
            ),
            "shipping_region": _text(
                "State, province or region (optional)", "shipping address-level1"
            ),
            "shipping_country": forms.ChoiceField(
                label="Country",
                required=False,
                choices=[("", "Choose a country"), *countries],
                widget=forms.Select(attrs={"autocomplete": "shipping country", "required": True}),
            ),
            "shipping_phone": _text(
                "Phone (optional, for the carrier)", "shipping tel", type="tel", inputmode="tel"
            ),
            "shipping_method": forms.ChoiceField(
                label="Shipping method",
                required=False,
                choices=[(str(m.pk), _method_label(m)) for m in methods],
                initial=str(methods[0].pk) if methods else None,
                widget=forms.RadioSelect,
            ),
        }

    @property
    def detail_fields(self) -> list[forms.BoundField]:
        return [self["email"], self["name"]]

    @property
    def address_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ADDRESS_FIELD_NAMES] if self.ships else []

    def clean_email(self) -> str:
        return _checked(checkout_email_clean, self.cleaned_data.get("email", ""))

    def clean_name(self) -> str:
        return _checked(checkout_name_clean, self.cleaned_data.get("name", ""))

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if not self.ships:
            return cleaned
        address, problems = shipping_address_check(self.data)
        for field, message in problems.items():
            self.add_error(field, message)
        if problems:
            return cleaned
        cleaned |= address
        try:
            method = shipping_method_choose(
                method=self.data.get("shipping_method"),
                country=address["shipping_country"],
                currency=self.currency,
            )
        except CheckoutError as exc:
            self.add_error("shipping_method", str(exc))
            return cleaned
        cleaned["shipping_method"] = method
        return cleaned

    @property
    def shipping(self) -> dict[str, str] | None:
        """The cleaned address fields (for ``order_create_from_cart``), when the cart ships."""
        if not self.ships:
            return None
        return {name: self.cleaned_data.get(name, "") for name in ADDRESS_FIELD_NAMES}


def _method_label(method: ShippingMethod) -> str:
    return format_html(
        '{} <span class="method-price">{}</span>', method.name, shipping_price_words(method)
    )


def _checked(rule: Callable[[str], str], value: str) -> str:
    try:
        return rule(value)
    except CheckoutError as exc:
        raise forms.ValidationError(str(exc)) from None


class ProductPhotoField(forms.ImageField):
    """An uploaded product photo, judged by its content (``orders.photos.photo_check``: size,
    pixels, Pillow's decompression-bomb guard, a whole JPEG, PNG, WebP or GIF), never by its
    name: the file is renamed with the extension of what it really is."""

    default_validators: list = []

    def to_python(self, data):
        upload = forms.FileField.to_python(self, data)
        if upload is None:
            return None
        extension = photo_check(upload)
        upload.name = f"photo.{extension}"
        return upload


class ProductAdminForm(forms.ModelForm):
    photo = ProductPhotoField(
        label="Photo",
        required=False,
        help_text=Product._meta.get_field("photo").help_text,
    )

    class Meta:
        model = Product
        fields = ("photo",)  # the admin adds the others (ProductAdmin.fieldsets)


class ProductListForm(forms.ModelForm):
    """A row of the admin's product list (its editable price, stock and active cells), each cell
    labelled with its product for screen readers ("Price of the mug")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["aria-label"] = f"{field.label} of {self.instance.name}"
