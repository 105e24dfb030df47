"""Stored webhook deliveries and the count of refused (wrong-token) calls.

Every call that reaches the right URL becomes a ``WebhookEvent`` before anything else happens, so
nothing banq sends is lost and every event can be reprocessed (``manage.py process_webhooks``).
``processed_key`` is the database's guarantee that one event, and only one, applied a given
(resourceType, resourceId, action, re-fetched status).
"""

from __future__ import annotations

from django.db import models


class WebhookEvent(models.Model):
    class State(models.TextChoices):
        RECEIVED = "received", "Received"  # stored, not processed yet
        PROCESSED = "processed", "Processed"  # applied (paid, failed) to an order
        DUPLICATE = "duplicate", "Duplicate"  # the same change was already applied by another event
        IGNORED = "ignored", "Ignored"  # not an event we act on, or nothing to do yet
        REJECTED = "rejected", "Rejected"  # banq's answer did not check out (see error)
        UNMATCHED = "unmatched", "Unmatched"  # no order found (yet): retried later
        PENDING = "pending", "Pending"  # banq could not be reached to re-fetch: retried later
        INVALID = "invalid", "Invalid"  # the body could not be read (see error)
        FAILED = "failed", "Failed"  # an unexpected error: retried later
        # Failed on every attempt up to the bound: no longer retried by itself, shown as needing
        # attention; reprocessed only when someone asks (admin action, process_webhooks --id).
        DEAD = "dead", "Dead (gave up)"

    # States process_webhooks retries by default.
    RETRYABLE_STATES = (State.PENDING, State.UNMATCHED, State.FAILED)
    # States in which an event is settled: processing it again changes nothing.
    FINAL_STATES = (State.PROCESSED, State.DUPLICATE, State.IGNORED, State.REJECTED)

    provider = models.CharField("provider", max_length=20, default="banq", editable=False)
    raw_body = models.BinaryField(
        "raw body",
        blank=True,
        default=b"",
        help_text="The body exactly as received (only its start when it was too large).",
    )
    body_size = models.PositiveIntegerField(
        "body size", default=0, help_text="Bytes received (or announced, when too large)."
    )
    body_truncated = models.BooleanField(
        "body truncated", default=False, help_text="The body was over the size limit."
    )
    content_type = models.CharField("content type", max_length=255, blank=True)
    headers = models.JSONField(
        "headers",
        default=dict,
        blank=True,
        help_text="Selected request headers (never cookies or authorization).",
    )
    remote_addr = models.CharField("remote address", max_length=64, blank=True)
    received_at = models.DateTimeField("received", auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField("processed", null=True, blank=True)
    state = models.CharField(
        "state", max_length=20, choices=State.choices, default=State.RECEIVED, db_index=True
    )
    action = models.CharField("action", max_length=64, blank=True)
    resource_type = models.CharField("resource type", max_length=64, blank=True)
    resource_id = models.CharField("resource id", max_length=128, blank=True, db_index=True)
    event_id = models.CharField(
        "event id", max_length=128, blank=True, help_text="banq's event id, when it sent one."
    )
    error = models.TextField("error", blank=True, help_text="Why the event is not processed.")
    attempts = models.PositiveIntegerField("attempts", default=0)
    last_attempt_at = models.DateTimeField("last attempt", null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        "next attempt",
        null=True,
        blank=True,
        db_index=True,
        help_text="When the worker processes it again (events banq or the store must retry).",
    )
    claimed_until = models.DateTimeField(
        "claimed until",
        null=True,
        blank=True,
        editable=False,
        help_text="A worker, command or admin action is processing it until then.",
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_events",
        verbose_name="order",
    )
    payment = models.ForeignKey(
        "banq.BanqPayment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_events",
        verbose_name="banq payment attempt",
    )
    dedupe_key = models.CharField(
        "dedupe key",
        max_length=255,
        blank=True,
        db_index=True,
        help_text="resourceType:resourceId:action:re-fetched status.",
    )
    processed_key = models.CharField(
        "processed key",
        max_length=255,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Set only on the one event that applied this dedupe key.",
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "webhook event"
        verbose_name_plural = "webhook events"
        indexes = [
            models.Index(fields=["state", "received_at"], name="webhook_state_received"),
            models.Index(fields=["resource_type", "action"], name="webhook_type_action"),
        ]

    def __str__(self) -> str:
        what = f"{self.resource_type} {self.resource_id} {self.action}".strip()
        return f"#{self.pk} {what or '(unparsed)'} [{self.state}]"


class WebhookRefusal(models.Model):
    """Calls to the webhook path with a wrong token, counted per day; their bodies are not kept.

    Refused calls whose body reads as a banq event are counted apart (``banq_like``): several of
    those, and nothing accepted since, mean banq is calling a stale URL (the token was rotated);
    scanners and stray test calls don't look like banq.
    """

    day = models.DateField("day", unique=True)
    count = models.PositiveIntegerField("refused calls", default=0)
    banq_like = models.PositiveIntegerField(
        "refused banq events", default=0, help_text="Refused calls whose body is a banq event."
    )
    banq_like_last_at = models.DateTimeField("last refused banq event", null=True, blank=True)
    first_seen_at = models.DateTimeField("first seen", auto_now_add=True)
    last_seen_at = models.DateTimeField("last seen")
    last_remote_addr = models.CharField("last remote address", max_length=64, blank=True)

    class Meta:
        ordering = ["-day"]
        verbose_name = "refused webhook call"
        verbose_name_plural = "refused webhook calls"

    def __str__(self) -> str:
        return f"{self.day}: {self.count}"
