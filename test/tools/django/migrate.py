"""Run the shop app's Django migrations up to a target, against one
database: python3 migrate.py DBNAME TARGET.  The server is the one PGHOST,
PGPORT and PGUSER name.  Django runs each migration in a transaction, as a
deployment would."""
import os
import sys

import django
from django.conf import settings
from django.core.management import call_command

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
settings.configure(
    INSTALLED_APPS=["shop"],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": sys.argv[1],
            "HOST": os.environ["PGHOST"],
            "PORT": os.environ["PGPORT"],
            "USER": os.environ.get("PGUSER", ""),
        }
    },
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    USE_TZ=True,
)
django.setup()
call_command("migrate", "shop", sys.argv[2], verbosity=1)
