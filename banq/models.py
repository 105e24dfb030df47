"""A payment attempt: one banq payment link created for one of our orders."""

from __future__ import annotations

from django.db import models

from orders.models import MoneyField, Order


class BanqPaymentQuerySet(models.QuerySet["BanqPayment"]):
    def checkable(self) -> BanqPaymentQuerySet:
        """The open attempts banq can be asked about: banq could still complete them (a superseded
        link may be open in an old tab) and they carry banq's payment id. (One without an id
        can't be looked up; the webhook, which names the payment, still settles it.)"""
        return self.filter(status__in=BanqPayment.OPEN_STATUSES).exclude(banq_payment_id="")


class BanqPayment(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", "Link created"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded"  # the order total changed; a new link was made
        REJECTED = "rejected", "Rejected by verification"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="banq_payments")
    banq_payment_id = models.CharField(
        "banq payment id",
        max_length=64,
        blank=True,
        db_index=True,
        help_text="banq's id for this payment, when banq returned one.",
    )
    url = models.URLField("payment link", max_length=500, blank=True)
    funds = MoneyField("funds")
    currency = models.CharField("currency", max_length=3, default="USD")
    frequency = models.CharField("frequency", max_length=20, default="once")
    start_date = models.DateField("start date", null=True, blank=True)
    end_date = models.DateField("end date", null=True, blank=True)
    status = models.CharField(
        "status", max_length=20, choices=Status.choices, default=Status.CREATED, db_index=True
    )
    banq_status = models.CharField(
        "banq's status", max_length=40, blank=True, help_text="The raw status banq last reported."
    )
    fail_reason = models.CharField("fail reason", max_length=200, blank=True)
    verification_error = models.TextField(
        "verification problem",
        blank=True,
        help_text="Why banq's answer did not check out against the order, if it didn't.",
    )
    last_payload = models.JSONField("last banq payload", null=True, blank=True)
    created_by_store = models.BooleanField(
        "created by the store",
        default=True,
        help_text="False for a banq payment found for this order that the store did not create "
        "(never allowed to fail the order).",
    )
    checked_at = models.DateTimeField(
        "banq's last word",
        null=True,
        blank=True,
        help_text="When banq last told us about this payment (its creation or a look-up).",
    )
    check_claimed_at = models.DateTimeField(
        "last asked",
        null=True,
        blank=True,
        editable=False,
        help_text="When the latest look-up at banq began (one at a time: it is in flight until "
        "banq's word is recorded or it fails).",
    )
    check_failed_at = models.DateTimeField(
        "last look-up failed",
        null=True,
        blank=True,
        editable=False,
        help_text="When a look-up at banq last failed (banq down, erroring or too slow).",
    )
    check_anchor_at = models.DateTimeField(
        "link handed out",
        null=True,
        blank=True,
        help_text="When the link was last given to the shopper: the sweep's schedule starts here.",
    )
    check_count = models.PositiveIntegerField("sweep checks", default=0)
    next_check_at = models.DateTimeField(  # indexed where set (Meta.indexes)
        "next check",
        null=True,
        blank=True,
        help_text="When the worker asks banq about this payment next (empty: no more checks).",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)
    completed_at = models.DateTimeField("completed", null=True, blank=True)

    objects = BanqPaymentQuerySet.as_manager()

    # banq can still complete these: a superseded link may be open in an old tab.
    OPEN_STATUSES = (Status.CREATED, Status.SUPERSEDED)
    FINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.REJECTED)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "banq payment attempt"
        verbose_name_plural = "banq payment attempts"
        indexes = [
            # The sweep reads the attempts due: only open ones have a next check, so the index
            # holds those few whatever the number of closed attempts.
            models.Index(
                fields=["next_check_at", "id"],
                condition=models.Q(next_check_at__isnull=False),
                name="attempt_next_check",
            ),
        ]

    def __str__(self) -> str:
        return self.banq_payment_id or f"attempt {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_checkable(self) -> bool:
        """This attempt as ``BanqPayment.objects.checkable()`` selects them."""
        return self.is_open and bool(self.banq_payment_id)
