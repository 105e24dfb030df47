"""The checkout form: e-mail and name only. Prices never come from a form. And the admin's product
form, whose photo is checked from its content.

The rules are ``orders.services.checkout_email_clean`` and ``checkout_name_clean``, which checkout
itself applies too; the form only shows their messages next to the right field.
"""

from django import forms

from orders.exceptions import CheckoutError
from orders.models import Product
from orders.photos import photo_check
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
    labelled with its product for screen readers ("Price of banq mug")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["aria-label"] = f"{field.label} of {self.instance.name}"
