"""The checkout form: e-mail and name only. Prices never come from a form."""

from django import forms


class CheckoutForm(forms.Form):
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        error_messages={
            "required": "Please enter your e-mail address.",
            "invalid": "Please enter a valid e-mail address.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    name = forms.CharField(
        label="Name",
        max_length=200,
        error_messages={
            "required": "Please enter your name.",
            "max_length": "Please enter a name of at most 200 characters.",
        },
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Please enter your name.")
        return name
