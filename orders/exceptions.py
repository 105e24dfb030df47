"""Expected problems of the shop. Each carries a message fit for the shopper."""


class OrderError(Exception):
    """Base class: ``str(exc)`` is safe to show to the shopper."""

    default_message = "Something went wrong with your order."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class InvalidOrderTransition(OrderError):
    default_message = "This order can't be changed that way."

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"An order that is {current} can't become {target}.")


class CartEmpty(OrderError):
    default_message = "Your cart is empty."


class CartError(OrderError):
    default_message = "That can't be added to your cart."


class ProductUnavailable(CartError):
    default_message = "That product is not available."


class InvalidQuantity(CartError):
    default_message = "Please choose a quantity between 1 and 99."


class OutOfStock(CartError):
    default_message = "There isn't enough stock for that quantity."


class MixedCart(CartError):
    """One order holds either one-time items or one recurring plan; the message says so."""

    default_message = "One order holds either one-time items or one recurring plan."


class CheckoutError(OrderError):
    """The checkout details could not be accepted (bad e-mail, missing name, ...); ``field`` names
    the form field at fault, when there is one."""

    default_message = "Please check your details and try again."

    def __init__(self, message: str | None = None, *, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class OrderNotPayable(OrderError):
    """The order can't be paid now (paid, cancelled, expired). ``str(exc)`` is for the shopper;
    ``reason`` is a short machine word: ``paid``, ``cancelled``, ``expired``, ``empty``."""

    default_message = "This order can't be paid."

    def __init__(self, message: str | None = None, *, reason: str = "") -> None:
        self.reason = reason
        super().__init__(message)


class FulfilmentError(OrderError):
    """The order can't be shipped or delivered (not paid, cancelled, nothing to ship, a bad
    tracking URL). ``str(exc)`` is for the merchant; ``field`` names the form field at fault."""

    default_message = "This order can't be shipped."

    def __init__(self, message: str | None = None, *, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class RefundError(OrderError):
    """A refund that can't be recorded (more than what is left to refund, nothing paid, a bad
    amount or reason): nothing was stored. ``str(exc)`` is for the merchant's form."""


class PlanCancelError(OrderError):
    """A plan that can't be cancelled (not started, ended, already cancelled)."""
