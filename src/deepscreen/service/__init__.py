"""The screening service: an HTTP API over the same pipeline as the CLI.

    >>> from deepscreen.service import create_app, ServiceSettings
    >>> app = create_app(ServiceSettings(home=Path("/var/lib/deepscreen")))

Needs the ``service`` extra; from a checkout: ``pip install -e '.[service]'``.
"""

from .app import create_app, make_app
from .settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app", "make_app"]
