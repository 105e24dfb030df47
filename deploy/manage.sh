#!/bin/sh
# Run a management command on a systemd host exactly as the units run the store: the same user,
# directory and environment file (parsed by systemd itself). For example, as root:
#   deploy/manage.sh migrate
#   deploy/manage.sh check --deploy
#   deploy/manage.sh banq_register_webhook --base-url https://shop.example.com
# STOREFRONT_DIR (default /srv/storefront) and STOREFRONT_ENV (default
# /etc/storefront/storefront.env) point elsewhere. With docker compose use instead:
#   docker compose -f deploy/compose.yaml run --rm migrate python manage.py <command>
set -eu
dir="${STOREFRONT_DIR:-/srv/storefront}"
exec systemd-run --quiet --pipe --wait --collect --service-type=exec \
    -p User=storefront -p Group=storefront \
    -p WorkingDirectory="$dir" \
    -p EnvironmentFile="${STOREFRONT_ENV:-/etc/storefront/storefront.env}" \
    "$dir/.venv/bin/python" manage.py "$@"
