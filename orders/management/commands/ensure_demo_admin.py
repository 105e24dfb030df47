"""``manage.py ensure_demo_admin``: a superuser for the demo, created once.

The password is printed only when the user is created (it is random unless ``--password`` is
given); later runs say the user exists and print no password.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction


class Command(BaseCommand):
    help = "Create the demo superuser if it does not exist, printing its password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default=None, help="Default: a random password.")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username, password, email, **options):
        username = (username or "").strip()
        if not username:
            raise CommandError("--username must not be empty.")
        if password is not None and not password:
            raise CommandError("--password must not be empty.")
        User = get_user_model()
        try:
            with transaction.atomic():
                if User._default_manager.filter(**{User.USERNAME_FIELD: username}).exists():
                    self.stdout.write(
                        f"Admin user '{username}' already exists (password unchanged, not shown)."
                    )
                    return
                password = password or secrets.token_urlsafe(12)
                User._default_manager.create_superuser(
                    **{User.USERNAME_FIELD: username}, email=email, password=password
                )
        except DatabaseError as exc:
            raise CommandError(f"Could not create the admin user: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Created admin user '{username}'."))
        self.stdout.write(f"  username: {username}")
        self.stdout.write(f"  password: {password}")
