"""Write the API's OpenAPI document: ``python -m deepscreen.service.openapi [PATH]``.

The committed copy lives at docs/openapi.json; tests/test_service_openapi.py fails when it
no longer matches the code, with this command in the message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .app import make_app
from .metrics import ServiceMetrics
from .settings import ServiceSettings

DEFAULT_PATH = Path("docs/openapi.json")
REGENERATE = "python -m deepscreen.service.openapi docs/openapi.json"


def openapi_document() -> dict[str, Any]:
    """The document the running service serves at /openapi.json (no database needed)."""
    return make_app(ServiceSettings(), ServiceMetrics()).openapi()


def render() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
