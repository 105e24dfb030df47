"""``manage.py banq_register_webhook --base-url https://shop.example.com``: point banq's webhook
config at this store (create it, or update only what differs). Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from banq.client import get_banq_client
from banq.exceptions import BanqConfigError, BanqError
from banq.management.commands._common import banq_command_error
from banq.selectors import webhook_url_build, webhook_url_mask
from banq.settings import banq_settings

WEBHOOK_TYPES = ("payment", "transaction")
MAX_RETRY_COUNT = 100


def _types(value: str) -> tuple[str, ...]:
    types = tuple(dict.fromkeys(t.strip().lower() for t in value.split(",") if t.strip()))
    unknown = [t for t in types if t not in WEBHOOK_TYPES]
    if not types or unknown:
        raise CommandError(
            f"--types must be a comma-separated list of: {', '.join(WEBHOOK_TYPES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return types


def _describe(config) -> str:
    if config is None:
        return "none"
    return (
        f"url {webhook_url_mask(config.url)}, {'enabled' if config.enabled else 'disabled'}, "
        f"retryCount {config.retry_count}, types {','.join(config.types) or '-'}"
    )


@dataclass(frozen=True)
class Wanted:
    """The webhook config this store wants at banq, from the options and the settings."""

    space: str
    url: str
    enabled: bool
    retry_count: int
    types: tuple[str, ...]

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Wanted:
        """Raises CommandError for a bad option or a missing setting."""
        config = banq_settings()
        base_url = (options["base_url"] or config.storefront_url or "").strip().rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CommandError(f"--base-url must be an http(s) URL, got {base_url!r}.")
        if parts.path or parts.query or parts.fragment:
            raise CommandError("--base-url must be the site's root URL, without a path.")
        if config.environment == "production" and parts.scheme != "https":
            raise CommandError("--base-url must use https in production.")
        retry_count = options["retry_count"]
        if not 0 <= retry_count <= MAX_RETRY_COUNT:
            raise CommandError(f"--retry-count must be between 0 and {MAX_RETRY_COUNT}.")
        types = _types(options["types"])
        space = (options["space"] or config.account_space_id or "").strip()
        if not space:
            raise CommandError("No account space: set BANQ_ACCOUNT_SPACE_ID or pass --space.")
        try:
            url = webhook_url_build(base_url=base_url)
        except BanqConfigError as exc:
            raise CommandError(str(exc)) from None
        return cls(space, url, not options["disable"], retry_count, types)

    def changes_from(self, current) -> dict[str, Any]:
        """What differs between banq's ``current`` config and this one (all of it when banq
        has none)."""
        wanted = {
            "url": self.url,
            "enabled": self.enabled,
            "retry_count": self.retry_count,
            "types": self.types,
        }
        if current is None:
            return wanted
        same = {
            "url": current.url == self.url,
            "enabled": current.enabled == self.enabled,
            "retry_count": current.retry_count == self.retry_count,
            "types": set(current.types) == set(self.types),
        }
        return {field: value for field, value in wanted.items() if not same[field]}


class Command(BaseCommand):
    help = (
        "Create or update banq's webhook config for this store: the URL is BASE_URL + "
        "/webhooks/banq/<BANQ_WEBHOOK_TOKEN>/payment-status/ (printed with the token masked). "
        "Shows banq's current config, then creates it (POST) or updates only the fields that "
        "differ (PATCH); when nothing differs it changes nothing and says 'already up to date'. "
        "--dry-run shows what would change. Exit status 1 when banq refuses or can't be reached."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            dest="base_url",
            default=None,
            help="The store's public URL, e.g. https://shop.example.com (default: STOREFRONT_URL).",
        )
        parser.add_argument(
            "--space",
            default=None,
            help="The banq account space id (default: BANQ_ACCOUNT_SPACE_ID).",
        )
        parser.add_argument(
            "--retry-count",
            dest="retry_count",
            type=int,
            default=5,
            help="How often banq retries a failed delivery (default: %(default)s).",
        )
        parser.add_argument(
            "--types",
            default=",".join(WEBHOOK_TYPES),
            help="Comma-separated event types to receive (default: %(default)s).",
        )
        parser.add_argument(
            "--disable",
            action="store_true",
            help="Register the config disabled (banq stops calling us).",
        )
        parser.add_argument(
            "--dry-run",
            dest="dry_run",
            action="store_true",
            help="Show banq's config and what would change; change nothing.",
        )

    def handle(self, *args, **options) -> None:
        say = self.stdout.write if options["verbosity"] >= 1 else (lambda *a, **k: None)
        wanted = Wanted.from_options(options)
        try:
            client = get_banq_client()
            current = client.get_webhook_config(wanted.space)
        except BanqError as exc:
            raise banq_command_error(exc, doing="reading banq's webhook config") from None
        say(f"account space   {wanted.space}")
        say(f"our webhook URL {webhook_url_mask(wanted.url)}")
        say(f"banq's config   {_describe(current)}")

        changes = wanted.changes_from(current)
        if current is None:
            say(f"{'Would create' if options['dry_run'] else 'Creating'} the webhook config.")
        elif not changes:
            say(self.style.SUCCESS("banq's webhook config is already up to date: no change."))
            return
        else:
            for field, value in changes.items():
                shown = webhook_url_mask(value) if field == "url" else value
                if field == "types":
                    shown = ",".join(value)
                say(f"  {field}: {'would change' if options['dry_run'] else 'changing'} to {shown}")

        if options["dry_run"]:
            say("Dry run: nothing changed at banq.")
            return
        try:
            if current is None:
                result = client.create_webhook_config(space_id=wanted.space, **changes)
            else:
                result = client.update_webhook_config(space_id=wanted.space, **changes)
        except BanqError as exc:
            raise banq_command_error(exc, doing="saving banq's webhook config") from None
        say(f"banq's config   {_describe(result)}")
        if result.url != wanted.url:
            raise CommandError("banq did not keep our webhook URL: check the config at banq.")
        say(self.style.SUCCESS("Webhook config " + ("created." if current is None else "updated.")))
