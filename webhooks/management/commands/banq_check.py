"""``manage.py banq_check``: is the banq integration working? One ✓/✗ line per part.

It lives in the webhooks app because it reports on both: banq's side (configuration, token, the
webhook config at banq) and ours (webhook calls refused for a wrong token).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from banq.client import get_banq_client
from banq.exceptions import BanqConfigError, BanqError, BanqNotFound, BanqRequestError
from banq.management.commands._common import BAD, OK, banq_command_error
from banq.selectors import webhook_url_mask, webhook_url_ours
from banq.settings import REQUIRED_CREDENTIALS, banq_settings
from webhooks.selectors import STALE_URL_MIN_REFUSALS, webhook_refusal_summary

CREDENTIALS = REQUIRED_CREDENTIALS
REFUSALS_DAYS = 7
NOTE = "–"  # worth knowing, not a problem
# A payment id no payment has: asking banq to cancel it cancels nothing.
PROBE_PAYMENT = "00000000-0000-4000-8000-000000000000"


def _names_unknown_payment(message: str) -> bool:
    """A 404 that says the payment is unknown (the path exists), not that the path is."""
    text = message.lower()
    return "no route" not in text and ("unknown payment" in text or "payment not found" in text)


class Command(BaseCommand):
    help = (
        "Check the banq integration: prints the configuration (which credentials are set, never "
        "their values), gets an Open API token, reads the webhook config of "
        "BANQ_ACCOUNT_SPACE_ID, compares its URL with this store's (STOREFRONT_URL + the webhook "
        "path; the token is shown masked) and reports webhook calls refused for a wrong token in "
        f"the last {REFUSALS_DAYS} days: {STALE_URL_MIN_REFUSALS} or more that carry a banq event, "
        "with nothing accepted since, mean banq calls a stale URL (scanners and single stray "
        "calls don't count). It also asks whether banq answers the undocumented call that stops "
        "a cancelled plan's recurring payment (about a payment that can't exist: nothing is "
        "cancelled); when it doesn't, cancelled plans are flagged for the merchant (a – line, "
        "not a problem). One ✓ or ✗ line per check; exit status 1 when anything is broken."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            dest="base_url",
            default=None,
            help="The store's public URL to compare with (default: STOREFRONT_URL).",
        )

    def handle(self, *args, **options) -> None:
        self.problems: list[str] = []
        config = banq_settings()
        base_url = (options["base_url"] or config.storefront_url).rstrip("/")
        self.stdout.write("banq configuration")
        self.stdout.write(f"  environment     {config.environment}")
        self.stdout.write(f"  token URL       {config.token_url}")
        self.stdout.write(f"  API URL         {config.api_url}")
        self.stdout.write(f"  storefront URL  {base_url}")
        missing = config.missing(CREDENTIALS)
        for name in CREDENTIALS:
            self.stdout.write(f"  {name:<22}{'missing' if name in missing else 'set'}")
        if missing:
            self._bad(f"configuration: missing {', '.join(missing)}")
        else:
            self._ok("configuration: every credential is set")

        client = None
        try:
            client = get_banq_client()
            client.get_token()
        except BanqError as exc:
            self._bad(f"token: {banq_command_error(exc, doing='getting a token')}")
            client = None
        else:
            self._ok("token: banq issued an Open API token")

        ours = None
        try:
            ours = webhook_url_ours(base_url=base_url)
        except BanqConfigError as exc:
            self._bad(f"webhook URL: {exc}")

        if client is not None:
            self._check_webhook_config(client, ours)
            self._check_recurring_cancel(client)
        self._check_refusals()

        if self.problems:
            raise CommandError(
                f"banq_check: {len(self.problems)} problem(s) found, see the ✗ lines above."
            )
        self.stdout.write(self.style.SUCCESS("banq integration OK."))

    def _check_webhook_config(self, client, ours: str | None) -> None:
        space = banq_settings().account_space_id
        try:
            config = client.get_webhook_config(space)
        except BanqError as exc:
            self._bad(f"API: {banq_command_error(exc, doing='reading the webhook config')}")
            return
        self._ok(f"API: read the webhook config of account space {space}")
        if config is None:
            self._bad(
                "webhook: banq has no webhook config for this account space "
                "(run manage.py banq_register_webhook --base-url ...)"
            )
            return
        self.stdout.write(f"  banq's webhook URL  {webhook_url_mask(config.url)}")
        if ours:
            self.stdout.write(f"  our webhook URL     {webhook_url_mask(ours)}")
        if ours and config.url != ours:
            self._bad(
                "webhook: banq calls a different URL than ours (run manage.py "
                "banq_register_webhook --base-url ... to update it)"
            )
        elif ours:
            self._ok("webhook: banq calls our URL")
        if not config.enabled:
            self._bad("webhook: disabled at banq")
        if "payment" not in config.types:
            self._bad(f"webhook: banq does not send payment events (types: {config.types})")

    def _check_recurring_cancel(self, client) -> None:
        """Does banq answer the call that stops a recurring payment (undocumented; the emulator
        models it)? Asked about a payment that can't exist, so nothing is cancelled. Not offered
        is no fault: cancelled plans are then flagged for the merchant to stop in banq's
        dashboard. Reported, never counted as a problem."""
        path = f"POST /payments/{PROBE_PAYMENT}/cancel"
        try:
            client.cancel_recurring_payment(PROBE_PAYMENT)
        except BanqNotFound as exc:
            if _names_unknown_payment(str(exc)):
                self._ok(
                    f"plans: banq answers {path} (unknown payment): cancelled plans are "
                    "stopped through the API"
                )
            else:
                self._note(
                    f"plans: banq does not answer {path} ({exc}): cancelled plans are "
                    "flagged for the merchant to stop in banq's dashboard"
                )
        except BanqRequestError as exc:
            if exc.status_code in (400, 409, 422):
                self._ok(
                    f"plans: banq answers {path} ({exc.status_code} for a payment that "
                    "doesn't exist): cancelled plans are stopped through the API"
                )
            else:
                self._note(
                    f"plans: banq does not offer {path} ({exc}): cancelled plans are "
                    "flagged for the merchant to stop in banq's dashboard"
                )
        except BanqError as exc:
            self._note(f"plans: could not ask whether banq answers {path}: {exc}")
        else:
            self._ok(f"plans: banq answers {path}: cancelled plans are stopped through the API")

    def _check_refusals(self) -> None:
        summary = webhook_refusal_summary(days=REFUSALS_DAYS)
        if summary.stale_url_suspected:
            last = summary.banq_like_last_at
            self._bad(
                f"webhook: {summary.banq_like} banq event(s) refused for a wrong token in the last "
                f"{REFUSALS_DAYS} days (last {last:%Y-%m-%d %H:%M}), none accepted since: banq is "
                "calling a stale URL; re-run banq_register_webhook"
            )
        elif summary.refused:
            self._ok(
                f"webhook: {summary.refused} call(s) refused for a wrong token in the last "
                f"{REFUSALS_DAYS} days, none of them a sign of a stale URL"
            )
        else:
            self._ok(f"webhook: no call refused for a wrong token in the last {REFUSALS_DAYS} days")

    def _ok(self, text: str) -> None:
        self.stdout.write(self.style.SUCCESS(f"{OK} {text}"))

    def _note(self, text: str) -> None:
        self.stdout.write(self.style.WARNING(f"{NOTE} {text}"))

    def _bad(self, text: str) -> None:
        self.problems.append(text)
        self.stdout.write(self.style.ERROR(f"{BAD} {text}"))
