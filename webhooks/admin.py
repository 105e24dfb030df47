"""A minimal, read-only admin for webhook events (the admin engineer extends it)."""

from django.contrib import admin

from webhooks.models import WebhookEvent, WebhookRefusal


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("pk", "received_at", "state", "resource_type", "action", "resource_id", "order")
    list_filter = ("state", "resource_type", "action")
    search_fields = ("resource_id", "event_id", "order__number", "dedupe_key")
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    date_hierarchy = "received_at"


@admin.register(WebhookRefusal)
class WebhookRefusalAdmin(admin.ModelAdmin):
    list_display = ("day", "count", "last_seen_at", "last_remote_addr")
    readonly_fields = ("day", "count", "first_seen_at", "last_seen_at", "last_remote_addr")
