"""``manage.py banq_accounts --email ...``: the merchant's account spaces and banq accounts."""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from banq.client import BanqClient, get_banq_user_client
from banq.exceptions import BanqAuthError, BanqError
from banq.management.commands._common import banq_command_error, table


def merchant_user_client() -> BanqClient:
    """A client for the merchant-user flow (``banq.client.get_banq_user_client``)."""
    return get_banq_user_client()


class Command(BaseCommand):
    # This is how a new merchant finds BANQ_MERCHANT_GUID and BANQ_ACCOUNT_SPACE_ID: it must run
    # while the system checks still fail for want of them (it checks what it needs itself).
    requires_system_checks: list[str] = []
    help = (
        "List your banq account spaces and banq accounts (name, banqGuid, accountSpaceId) and "
        "print the BANQ_MERCHANT_GUID / BANQ_ACCOUNT_SPACE_ID lines for your .env. Logs in as "
        "the merchant user (your banq login, not the Open API user): the password is read from "
        "standard input with --password-stdin, else asked for without echo. It is used for this "
        "one call and never stored or printed. Exit status 1 when banq refuses the login or "
        "can't be reached."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="Your banq login e-mail.")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from the first line of standard input (for scripts).",
        )

    def handle(self, *args, **options) -> None:
        email = (options["email"] or "").strip()
        if not email:
            raise CommandError("--email must not be empty.")
        password = self._password(email, options)
        try:
            profile = merchant_user_client().users_me(email=email, password=password)
        except BanqAuthError as exc:
            status = f" (HTTP {exc.status_code})" if exc.status_code else ""
            raise CommandError(
                f"banq refused the login{status}: check the e-mail and password of your banq "
                "merchant account."
            ) from None
        except BanqError as exc:
            raise banq_command_error(exc, doing="banq_accounts") from None

        self.stdout.write(f"banq user {profile.email or email}")
        self.stdout.write("")
        self.stdout.write("Account spaces")
        self._table(
            [(s.name or "-", s.id) for s in profile.account_spaces], ("NAME", "ACCOUNT SPACE ID")
        )
        self.stdout.write("")
        self.stdout.write("banq accounts")
        accounts = profile.banq_accounts
        if not accounts:
            raise CommandError(
                "banq lists no banq account for this user: create one in banq first."
            )
        self._table(
            [(a.name or "-", a.banq_guid, a.account_space_id or "-") for a in accounts],
            ("NAME", "BANQ GUID", "ACCOUNT SPACE ID"),
        )
        self._env_lines(profile)

    @staticmethod
    def _password(email: str, options: dict) -> str:
        """From standard input's first line with --password-stdin, else asked without echo."""
        if options["password_stdin"]:
            stream = options.get("stdin") or sys.stdin
            password = stream.readline().rstrip("\r\n")
        else:
            try:
                password = getpass.getpass(f"banq password for {email}: ")
            except (EOFError, KeyboardInterrupt):
                raise CommandError("No password given.") from None
        if not password:
            raise CommandError("No password given (empty).")
        return password

    def _table(self, rows: list[tuple[str, ...]], headings: tuple[str, ...]) -> None:
        for line in table(rows, headings) if rows else ["(none)"]:
            self.stdout.write("  " + line)

    def _env_lines(self, profile) -> None:
        """The .env lines for the first banq account, and commented ones for the others."""
        accounts = profile.banq_accounts
        first = accounts[0]
        spaces = profile.account_spaces
        space_id = first.account_space_id or (spaces[0].id if spaces else "")
        self.stdout.write("")
        self.stdout.write("Lines for your .env:")
        self.stdout.write(f"BANQ_MERCHANT_GUID={first.banq_guid}")
        if space_id:
            self.stdout.write(f"BANQ_ACCOUNT_SPACE_ID={space_id}")
        for other in accounts[1:]:
            self.stdout.write(
                f"# or {other.name or 'another account'}: BANQ_MERCHANT_GUID={other.banq_guid}"
                + (
                    f" BANQ_ACCOUNT_SPACE_ID={other.account_space_id}"
                    if other.account_space_id
                    else ""
                )
            )
